package normalize

import (
	"strings"
)

// Properties copied as they are to action.properties.*.
var (
	commonOriginProps        = props("Application", "ApplicationId", "DeliveryLocation", "DestinationDeviceName", "FileOriginIP", "FileOriginReferrerUrl", "FileOriginUrl")
	commonObjectProps        = props("LocalIPType", "Location", "LogonId", "LogonType", "ObjectId", "ObjectName", "ObjectType", "RecipientObjectId", "RemoteIPType", "SenderDisplayName", "SenderObjectId", "ServiceSource", "TargetAccountDisplayName", "TargetAccountUpn", "TargetDeviceName", "AccountSid")
	remoteSessionProps       = props("InitiatingProcessSessionId", "IsInitiatingProcessRemoteSession")
	processFieldsProps       = props("ProcessTokenElevation")
	initiatingProcessDetails = props("InitiatingProcessAccountObjectId", "InitiatingProcessFileSize", "InitiatingProcessIntegrityLevel", "InitiatingProcessLogonId", "InitiatingProcessTokenElevation", "InitiatingProcessCommandLine", "InitiatingProcessVersionInfoCompanyName", "InitiatingProcessVersionInfoFileDescription", "InitiatingProcessVersionInfoInternalFileName", "InitiatingProcessVersionInfoOriginalFileName", "InitiatingProcessVersionInfoProductName", "InitiatingProcessVersionInfoProductVersion")
)

// sourceIPProps may hold the source address; the last valid one wins.
var sourceIPProps = []propID{pLocalIP, pIPAddress, pRequestSourceIP, pPublicIP,
	pSenderIPv4, pSenderIPv6, pInitiatingProcessRemoteSessionIP}

// commonFields maps the properties every table may carry (the reference's
// set_common_fields stage). Later table stages may overwrite these fields.
func (r *record) commonFields() {
	r.setConst("event.type", isInfo)
	r.copyOr("event.action", pAction, pDeliveryAction)
	r.copyTop("action.name", "operationName")
	r.copy("agent.version", pClientVersion)
	r.copy("agent.id", pDeviceId)
	r.copyOr("destination.port", pRemotePort, pDestinationPort)
	r.copy("email.local_id", pNetworkMessageId)
	r.copy("email.message_id", pInternetMessageId)
	r.copyOr("email.subject", pEmailSubject, pSubject)
	r.copy("file.directory", pFolderPath)
	r.copy("file.hash.md5", pMD5)
	r.copy("file.hash.sha1", pSHA1)
	r.copy("file.hash.sha256", pSHA256)
	r.copy("file.name", pFileName)
	r.copy("file.size", pFileSize)
	r.copy("host.architecture", pOSArchitecture)
	r.copy("host.id", pDeviceId)
	r.copy("host.name", pDeviceName)
	r.copy("host.os.family", pOSDistribution)
	r.copy("host.os.full", pOSPlatform)
	r.copy("host.os.version", pOSVersion)
	r.copy("host.type", pDeviceType)
	r.copy("registry.data.type", pRegistryValueType)
	r.copy("registry.key", pRegistryKey)
	r.copy("registry.value", pRegistryValueName)
	r.copy("service.name", pServiceSource)
	r.copy("service.type", pDetectionSource)
	r.copy("source.geo.city_name", pCity)
	r.copyOr("source.port", pLocalPort, pRequestSourcePort)
	r.copy("url.domain", pUrlDomain)
	r.copyOr("url.original", pFileOriginUrl, pUrl)
	r.copyOr("user.domain", pAccountDomain, pRequestAccountDomain)
	r.copy("user.full_name", pAccountDisplayName)
	r.copyOr("user.name", pAccountName, pRequestAccountName)
	r.copy("user_agent.original", pUserAgent)
	r.copy("action.outcome", pFailureReason)
	r.copy("action.type", pActionType)
	r.setProps(commonOriginProps)
	r.copyOr("action.properties.ISP", pISP, pIsp)
	r.setProps(commonObjectProps)
	r.copy("action.properties.AccountUPN", pAccountUpn)
	r.setProps(remoteSessionProps)
	// Only an AdditionalFields that is already an object has these keys.
	if v := r.props.get(pAdditionalFields); v != nil && v.Type() == jsonObject {
		addl := r.p(pAdditionalFields)
		r.set("action.properties.SourceComputerId", attr(addl, "SourceComputerId"))
		r.set("action.properties.SourceComputerObjectGuid", attr(addl, "SourceComputerObjectGuid"))
	}
	r.copy("microsoft.defender.activity.objects", pActivityObjects)
	r.copy("microsoft.defender.activity.type", pActivityType)
	r.copy("microsoft.defender.alert.id", pAlertId)
	r.copy("microsoft.defender.alert.title", pTitle)
	r.copy("microsoft.defender.alert.severity", pSeverity)
	r.copy("microsoft.defender.report.id", pReportId)
	r.copy("microsoft.defender.threat.detection", pDetectionMethods)
	r.copy("microsoft.defender.threat.names", pThreatNames)
	r.copy("microsoft.defender.threat.types", pThreatTypes)
	r.copy("microsoft.defender.url_location", pUrlLocation)

	for _, id := range sourceIPProps {
		if s, ok := r.text(id); ok && validIP(s) {
			r.copy("source.ip", id)
		}
	}
	r.copy("source.domain", pInitiatingProcessRemoteSessionDeviceName)
	for _, id := range []propID{pRemoteIP, pDestinationIPAddress} {
		if s, ok := r.text(id); ok && validIP(s) {
			r.copy("destination.ip", id)
		}
	}
	r.remoteURL()
	r.setOneItemList("email.to.address", pRecipientEmailAddress)
	r.setOneItemList("email.from.address", pSenderFromAddress)
	r.setOneItemList("registry.data.strings", pRegistryValueData)
	if v := r.p(pAppGuardContainerId); truthy(v) {
		r.set("container.id", v)
		r.setValue("container.runtime", "Application Guard")
	}
	// The reference also maps AccountType to user.roles, a field its
	// platform does not keep: its documents never carry it, so ours do not.
	reqProto, proto := r.p(pRequestProtocol), r.p(pProtocol)
	hasReq := !isNone(reqProto) && reqProto != undef
	hasProto := !isNone(proto) && proto != undef && proto != "Negotiate"
	if hasReq || hasProto {
		r.set("network.protocol", or(reqProto, proto))
	}
	r.operationProperties()
}

// remoteURL: a RemoteUrl that looks like a URL is url.original (with the
// first "uri=" removed), anything else is a domain.
func (r *record) remoteURL() {
	if s, ok := r.text(pRemoteUrl); ok {
		if strings.HasPrefix(s, "http") || strings.HasPrefix(s, "uri") {
			before, after, _ := strings.Cut(s, "uri=")
			r.setText("url.original", before+after)
			return
		}
		r.copy("url.domain", pRemoteUrl)
		return
	}
	if r.has(pRemoteUrl) {
		r.set("url.domain", r.p(pRemoteUrl))
	}
}

// operationProperties turns RawEventData.OperationProperties, a list of
// {Name, Value} pairs, into one object. Values holding JSON are decoded.
// The reference builds the object as text; when that text is not a valid
// literal (a value with a quote, for example) the field is left out.
func (r *record) operationProperties() {
	ops := r.propAttr(pRawEventData, "OperationProperties")
	if ops == undef || ops == nil {
		return
	}
	list, ok := ops.([]any)
	if !ok {
		return
	}
	var b strings.Builder
	b.WriteByte('{')
	for _, it := range list {
		name, value := attr(it, "Name"), attr(it, "Value")
		if value == nil {
			continue
		}
		decoded := fromJSONText(value)
		if decoded == nil || decoded == undef {
			b.WriteString(`"` + str(name) + `":"` + str(value) + `",`)
		} else {
			b.WriteString(`"` + str(name) + `": ` + str(decoded) + `,`)
		}
	}
	b.WriteByte('}')
	r.setText("microsoft.defender.operation.properties", b.String())
}

// setOneItemList is the reference's `path: '["{{prop}}"]'` when the
// property is present: the text is evaluated as a one-item list literal.
// Text with no quote, backslash or line break gives the list of itself,
// without building and parsing the literal.
func (r *record) setOneItemList(path string, id propID) {
	if s, ok := r.text(id); ok {
		if !strings.ContainsAny(s, "\"\\\r\n") {
			r.setValue(path, []any{s})
			return
		}
		r.setText(path, `["`+s+`"]`)
		return
	}
	if r.has(id) {
		r.setText(path, `["`+str(r.p(id))+`"]`)
	}
}

// processFields maps the initiating process of every table but
// DeviceProcessEvents to process.* (set_process_events).
func (r *record) processFields() {
	r.copyOrTop("process.hash.md5", "InitiatingProcessMD5", pInitiatingProcessMD5)
	r.copyOrTop("process.hash.sha1", "InitiatingProcessSHA1", pInitiatingProcessSHA1)
	r.copyOrTop("process.hash.sha256", "InitiatingProcessSHA256", pInitiatingProcessSHA256)
	r.copyOr("process.pid", pProcessId, pInitiatingProcessId)
	r.copy("process.start", pInitiatingProcessCreationTime)
	r.copyText("process.name", pInitiatingProcessFileName, basename)
	r.copyOr("process.command_line", pProcessCommandLine, pInitiatingProcessCommandLine)
	r.copy("process.executable", pInitiatingProcessFolderPath)
	r.copyText("process.working_directory", pInitiatingProcessFolderPath, dirname)
	r.copy("process.user.domain", pInitiatingProcessAccountDomain)
	r.copy("process.user.name", pInitiatingProcessAccountName)
	r.copy("process.user.id", pInitiatingProcessAccountSid)
	r.copy("process.user.email", pInitiatingProcessAccountUpn)
	r.copy("process.parent.pid", pInitiatingProcessParentId)
	r.copyText("process.parent.name", pInitiatingProcessParentFileName, basename)
	r.copy("process.parent.start", pInitiatingProcessParentCreationTime)
	r.initiatingProcessProps()
	r.setProps(processFieldsProps)
	r.setArgs("process.args", pInitiatingProcessCommandLine)
	r.setArgs("process.args", pProcessCommandLine)
}

// initiatingProcessProps keeps the initiating process's details that have
// no ECS field.
func (r *record) initiatingProcessProps() {
	r.setProps(initiatingProcessDetails)
}

// setArgs sets path to the words of a command line after the first, split
// on single spaces as the reference does, when there are any.
func (r *record) setArgs(path string, prop propID) {
	cl, ok := r.text(prop)
	if !ok || cl == "" {
		return
	}
	words := strings.Split(cl, " ")
	if len(words) <= 1 || len(words) == 2 && words[1] == "" {
		return
	}
	args := words[1:]
	if strings.Trim(cl[len(words[0]):], " ") == "" {
		return // only blanks after the first word: an empty list is no list
	}
	r.doc.putField(r.doc.field(path), args)
}
