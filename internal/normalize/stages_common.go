package normalize

import (
	"strings"
)

// commonFields maps the properties every table may carry (the reference's
// set_common_fields stage). Later table stages may overwrite these fields.
func (r *record) commonFields() {
	r.setValue("event.type", []any{"info"})
	r.set("event.action", or(r.p("Action"), r.p("DeliveryAction")))
	r.set("action.name", r.top("operationName"))
	r.set("agent.version", r.p("ClientVersion"))
	r.set("agent.id", r.p("DeviceId"))
	r.set("destination.port", or(r.p("RemotePort"), r.p("DestinationPort")))
	r.set("email.local_id", r.p("NetworkMessageId"))
	r.set("email.message_id", r.p("InternetMessageId"))
	r.set("email.subject", or(r.p("EmailSubject"), r.p("Subject")))
	r.set("file.directory", r.p("FolderPath"))
	r.set("file.hash.md5", r.p("MD5"))
	r.set("file.hash.sha1", r.p("SHA1"))
	r.set("file.hash.sha256", r.p("SHA256"))
	r.set("file.name", r.p("FileName"))
	r.set("file.size", r.p("FileSize"))
	r.set("host.architecture", r.p("OSArchitecture"))
	r.set("host.id", r.p("DeviceId"))
	r.set("host.name", r.p("DeviceName"))
	r.set("host.os.family", r.p("OSDistribution"))
	r.set("host.os.full", r.p("OSPlatform"))
	r.set("host.os.version", r.p("OSVersion"))
	r.set("host.type", r.p("DeviceType"))
	r.set("registry.data.type", r.p("RegistryValueType"))
	r.set("registry.key", r.p("RegistryKey"))
	r.set("registry.value", r.p("RegistryValueName"))
	r.set("service.name", r.p("ServiceSource"))
	r.set("service.type", r.p("DetectionSource"))
	r.set("source.geo.city_name", r.p("City"))
	r.set("source.port", or(r.p("LocalPort"), r.p("RequestSourcePort")))
	r.set("url.domain", r.p("UrlDomain"))
	r.set("url.original", or(r.p("FileOriginUrl"), r.p("Url")))
	r.set("user.domain", or(r.p("AccountDomain"), r.p("RequestAccountDomain")))
	r.set("user.full_name", r.p("AccountDisplayName"))
	r.set("user.name", or(r.p("AccountName"), r.p("RequestAccountName")))
	r.set("user_agent.original", r.p("UserAgent"))
	r.set("action.outcome", r.p("FailureReason"))
	r.set("action.type", r.p("ActionType"))
	r.setProps("Application", "ApplicationId", "DeliveryLocation", "DestinationDeviceName",
		"FileOriginIP", "FileOriginReferrerUrl", "FileOriginUrl")
	r.set("action.properties.ISP", or(r.p("ISP"), r.p("Isp")))
	r.setProps("LocalIPType", "Location", "LogonId", "LogonType", "ObjectId", "ObjectName",
		"ObjectType", "RecipientObjectId", "RemoteIPType", "SenderDisplayName", "SenderObjectId",
		"ServiceSource", "TargetAccountDisplayName", "TargetAccountUpn", "TargetDeviceName",
		"AccountSid")
	r.set("action.properties.AccountUPN", r.p("AccountUpn"))
	r.setProps("InitiatingProcessSessionId", "IsInitiatingProcessRemoteSession")
	// Only an AdditionalFields that is already an object has these keys.
	addl := r.p("AdditionalFields")
	r.set("action.properties.SourceComputerId", attr(addl, "SourceComputerId"))
	r.set("action.properties.SourceComputerObjectGuid", attr(addl, "SourceComputerObjectGuid"))
	r.set("microsoft.defender.activity.objects", r.p("ActivityObjects"))
	r.set("microsoft.defender.activity.type", r.p("ActivityType"))
	r.set("microsoft.defender.alert.id", r.p("AlertId"))
	r.set("microsoft.defender.alert.title", r.p("Title"))
	r.set("microsoft.defender.alert.severity", r.p("Severity"))
	r.set("microsoft.defender.report.id", r.p("ReportId"))
	r.set("microsoft.defender.threat.detection", r.p("DetectionMethods"))
	r.set("microsoft.defender.threat.names", r.p("ThreatNames"))
	r.set("microsoft.defender.threat.types", r.p("ThreatTypes"))
	r.set("microsoft.defender.url_location", r.p("UrlLocation"))

	// source.ip: the last valid address of these wins.
	for _, name := range []string{"LocalIP", "IPAddress", "RequestSourceIP", "PublicIP",
		"SenderIPv4", "SenderIPv6", "InitiatingProcessRemoteSessionIP"} {
		if v := r.p(name); isIP(v) {
			r.set("source.ip", v)
		}
	}
	r.set("source.domain", r.p("InitiatingProcessRemoteSessionDeviceName"))
	for _, name := range []string{"RemoteIP", "DestinationIPAddress"} {
		if v := r.p(name); isIP(v) {
			r.set("destination.ip", v)
		}
	}
	r.remoteURL()
	if v := r.p("RecipientEmailAddress"); !isNone(v) && v != undef {
		r.setText("email.to.address", `["`+str(v)+`"]`)
	}
	if v := r.p("SenderFromAddress"); !isNone(v) && v != undef {
		r.setText("email.from.address", `["`+str(v)+`"]`)
	}
	if v := r.p("RegistryValueData"); !isNone(v) && v != undef {
		r.setText("registry.data.strings", `["`+str(v)+`"]`)
	}
	if v := r.p("AppGuardContainerId"); truthy(v) {
		r.set("container.id", v)
		r.setValue("container.runtime", "Application Guard")
	}
	// The reference also maps AccountType to user.roles, a field its
	// platform does not keep: its documents never carry it, so ours do not.
	reqProto, proto := r.p("RequestProtocol"), r.p("Protocol")
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
	v := r.p("RemoteUrl")
	s, isStr := v.(string)
	if isStr && (strings.HasPrefix(s, "http") || strings.HasPrefix(s, "uri")) {
		before, after, _ := strings.Cut(s, "uri=")
		r.setText("url.original", before+after)
		return
	}
	if !isNone(v) && v != undef {
		r.set("url.domain", v)
	}
}

// operationProperties turns RawEventData.OperationProperties, a list of
// {Name, Value} pairs, into one object. Values holding JSON are decoded.
// The reference builds the object as text; when that text is not a valid
// literal (a value with a quote, for example) the field is left out.
func (r *record) operationProperties() {
	ops := attr(r.p("RawEventData"), "OperationProperties")
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

// processFields maps the initiating process of every table but
// DeviceProcessEvents to process.* (set_process_events).
func (r *record) processFields() {
	r.set("process.hash.md5", or(r.top("InitiatingProcessMD5"), r.p("InitiatingProcessMD5")))
	r.set("process.hash.sha1", or(r.top("InitiatingProcessSHA1"), r.p("InitiatingProcessSHA1")))
	r.set("process.hash.sha256", or(r.top("InitiatingProcessSHA256"), r.p("InitiatingProcessSHA256")))
	r.set("process.pid", or(r.p("ProcessId"), r.p("InitiatingProcessId")))
	r.set("process.start", r.p("InitiatingProcessCreationTime"))
	r.set("process.name", basename(r.p("InitiatingProcessFileName")))
	r.set("process.command_line", or(r.p("ProcessCommandLine"), r.p("InitiatingProcessCommandLine")))
	r.set("process.executable", r.p("InitiatingProcessFolderPath"))
	r.set("process.working_directory", dirname(r.p("InitiatingProcessFolderPath")))
	r.set("process.user.domain", r.p("InitiatingProcessAccountDomain"))
	r.set("process.user.name", r.p("InitiatingProcessAccountName"))
	r.set("process.user.id", r.p("InitiatingProcessAccountSid"))
	r.set("process.user.email", r.p("InitiatingProcessAccountUpn"))
	r.set("process.parent.pid", r.p("InitiatingProcessParentId"))
	r.set("process.parent.name", basename(r.p("InitiatingProcessParentFileName")))
	r.set("process.parent.start", r.p("InitiatingProcessParentCreationTime"))
	r.initiatingProcessProps()
	r.setProps("ProcessTokenElevation")
	r.setArgs("process.args", "InitiatingProcessCommandLine")
	r.setArgs("process.args", "ProcessCommandLine")
}

// initiatingProcessProps keeps the initiating process's details that have
// no ECS field.
func (r *record) initiatingProcessProps() {
	r.setProps("InitiatingProcessAccountObjectId", "InitiatingProcessFileSize",
		"InitiatingProcessIntegrityLevel", "InitiatingProcessLogonId",
		"InitiatingProcessTokenElevation", "InitiatingProcessCommandLine",
		"InitiatingProcessVersionInfoCompanyName", "InitiatingProcessVersionInfoFileDescription",
		"InitiatingProcessVersionInfoInternalFileName", "InitiatingProcessVersionInfoOriginalFileName",
		"InitiatingProcessVersionInfoProductName", "InitiatingProcessVersionInfoProductVersion")
}

// setArgs sets path to the words of a command line after the first, split
// on single spaces as the reference does, when there are any.
func (r *record) setArgs(path, prop string) {
	cl, ok := r.p(prop).(string)
	if !ok || cl == "" {
		return
	}
	words := strings.Split(cl, " ")
	if len(words) <= 1 || len(words) == 2 && words[1] == "" {
		return
	}
	args := make([]any, len(words)-1)
	for i, w := range words[1:] {
		args[i] = w
	}
	r.setValue(path, args)
}
