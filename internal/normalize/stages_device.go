package normalize

// Properties copied as they are to action.properties.*.
var (
	createdProcessDetails     = props("ProcessTokenElevation", "ProcessIntegrityLevel", "ProcessVersionInfoCompanyName", "ProcessVersionInfoFileDescription", "ProcessVersionInfoInternalFileName", "ProcessVersionInfoOriginalFileName", "ProcessVersionInfoProductName", "ProcessVersionInfoProductVersion")
	deviceEventsProps         = props("RemoteDeviceName")
	deviceFileEventsProps     = props("PreviousFolderPath", "PreviousFileName", "RequestAccountSid", "ShareName", "SensitivityLabel", "SensitivitySubLabel", "IsAzureInfoProtectionApplied")
	deviceInfoProps           = props("IsAzureADJoined", "AadDeviceId", "LoggedOnUsers", "RegistryDeviceTag", "MachineGroup", "OnboardingStatus", "MergedDeviceIds", "MergedToDeviceId", "JoinType")
	deviceLogonEventsProps    = props("RemoteIPType", "IsLocalAdmin")
	deviceRegistryEventsProps = props("PreviousRegistryKey", "PreviousRegistryValueData", "PreviousRegistryValueName")
)

// Stages of the Device* tables (Microsoft Defender for Endpoint).

// deviceProcessEvents maps the created process to process.* and its
// initiating process to process.parent.* (set_process_deviceprocess_events
// and set_device_process_events_fields).
func (r *record) deviceProcessEvents() {
	r.copyText("action.properties.InitiatingProcessParentFileName", pInitiatingProcessParentFileName, basename)
	r.copy("process.parent.code_signature.status", pInitiatingProcessSignatureStatus)
	r.copy("process.parent.code_signature.subject_name", pInitiatingProcessSignerType)
	r.copy("process.parent.command_line", pInitiatingProcessCommandLine)
	r.copy("process.parent.executable", pInitiatingProcessFolderPath)
	r.copyOrTop("process.parent.hash.md5", "InitiatingProcessMD5", pInitiatingProcessMD5)
	r.copyOrTop("process.parent.hash.sha1", "InitiatingProcessSHA1", pInitiatingProcessSHA1)
	r.copyOrTop("process.parent.hash.sha256", "InitiatingProcessSHA256", pInitiatingProcessSHA256)
	r.copyText("process.parent.name", pInitiatingProcessFileName, basename)
	r.copy("process.parent.pid", pInitiatingProcessId)
	r.copy("process.parent.start", pInitiatingProcessCreationTime)
	r.copy("process.parent.user.domain", pInitiatingProcessAccountDomain)
	r.copy("process.parent.user.name", pInitiatingProcessAccountName)
	r.copy("process.parent.user.id", pInitiatingProcessAccountSid)
	r.copy("process.parent.user.email", pInitiatingProcessAccountUpn)
	r.copyText("process.parent.working_directory", pInitiatingProcessFolderPath, dirname)
	r.copy("process.pid", pProcessId)
	r.copy("process.start", pProcessCreationTime)
	r.copyText("process.name", pFileName, basename)
	r.copy("process.command_line", pProcessCommandLine)
	r.copy("process.executable", pFolderPath)
	r.copyText("process.working_directory", pFolderPath, dirname)
	r.setProps(createdProcessDetails)
	r.initiatingProcessProps()
	r.setArgs("process.parent.args", pInitiatingProcessCommandLine)
	r.setArgs("process.args", pProcessCommandLine)

	// The table has no OS field; the reference infers it from fields that
	// only some agents fill: a POSIX session id (Linux and macOS), an
	// account SID (Windows and macOS), a unique process id (Windows).
	if r.fields != undef {
		posix := attr(r.fields, "InitiatingProcessPosixSessionId")
		if !isNone(posix) {
			if !r.has(pAccountSid) {
				r.setValue("host.os.type", "linux")
			} else if n, ok := r.length(pAccountSid); ok && n > 1 {
				r.setValue("host.os.type", "macos")
			}
		}
	}
	if n, ok := r.length(pInitiatingProcessUniqueId); ok && n > 1 {
		r.setValue("host.os.type", "windows")
	}

	r.setValue("event.dataset", "device_process_events")
	r.setConst("event.category", inProcess)
}

func (r *record) deviceEvents() {
	r.setValue("event.dataset", "device_events")
	r.setConst("event.category", inHost)
	r.setProps(deviceEventsProps)
	f := r.fields
	if f == undef {
		return
	}
	set := func(path, key string) {
		if v := attr(f, key); !isNone(v) {
			r.set(path, v)
		}
	}
	switch r.actionType() {
	case "UsbDriveMounted":
		set("device.manufacturer", "Manufacturer")
		set("action.properties.DeviceSerialNumber", "SerialNumber")
		set("volume.bus_type", "BusType")
		set("volume.product_name", "ProductName")
		set("volume.dos_name", "DriveLetter")
	case "PnpDeviceConnected":
		set("device.id", "DeviceId")
		set("device.model.name", "DeviceDescription")
		if ids := attr(f, "VendorIds"); !isNone(ids) {
			r.set("device.manufacturer", index(ids, 0))
		}
	}
}

func (r *record) deviceFileCertificateInfo() {
	r.setValue("event.dataset", "device_file_certificate_info")
	r.setConst("event.category", inFile)
	r.copy("file.x509.serial_number", pCertificateSerialNumber)
	r.copy("file.x509.not_after", pCertificateExpirationTime)
	r.copy("microsoft.defender.certificate.is_signed", pIsSigned)
	r.copy("microsoft.defender.certificate.is_trusted", pIsTrusted)
	r.copy("microsoft.defender.certificate.is_root_signer_microsort", pIsRootSignerMicrosoft)
	r.copy("microsoft.defender.certificate.signature_type", pSignatureType)
	r.copy("microsoft.defender.certificate.issuer.name", pIssuer)
	r.copy("microsoft.defender.certificate.issuer.hash", pIssuerHash)
	r.copy("microsoft.defender.certificate.signer.name", pSigner)
	r.copy("microsoft.defender.certificate.signer.hash", pSignerHash)
	r.copy("microsoft.defender.certificate.crl.urls", pCrlDistributionPointUrls)
	r.copy("microsoft.defender.certificate.created_at", pCertificateCreationTime)
	r.copy("microsoft.defender.certificate.counter_signed_at", pCertificateCountersignatureTime)
}

func (r *record) deviceFileEvents() {
	r.setValue("event.dataset", "device_file_events")
	r.setConst("event.category", inFile)
	r.setProps(deviceFileEventsProps)
}

func (r *record) deviceImageLoadEvents() {
	r.setValue("event.dataset", "device_image_load_events")
	r.setConst("event.category", inProcess)
}

func (r *record) deviceInfo() {
	r.setValue("event.dataset", "device_info_events")
	r.setConst("event.category", inHost)
	r.copy("microsoft.defender.host.model", pModel)
	r.copy("microsoft.defender.host.vendor", pVendor)
	r.copy("microsoft.defender.host.category", pDeviceCategory)
	r.copy("microsoft.defender.host.subtype", pDeviceSubType)
	r.copy("microsoft.defender.host.os.build", pOSBuild)
	r.copy("microsoft.defender.host.os.version", pOSVersionInfo)
	r.setProps(deviceInfoProps)
	if n, ok := length(r.users); ok && n > 0 {
		first := index(r.users, 0)
		r.set("user.name", attr(first, "UserName"))
		r.set("user.domain", attr(first, "DomainName"))
		r.set("user.id", attr(first, "Sid"))
	}
}

func (r *record) deviceLogonEvents() {
	r.setValue("event.dataset", "device_logon_events")
	r.setConst("event.category", inAuthentication)
	switch r.actionType() {
	case "LogonSuccess":
		r.setValue("event.outcome", "success")
	case "LogonFailed":
		r.setValue("event.outcome", "failure")
	default:
		r.setValue("event.outcome", "unknown")
	}
	r.setProps(deviceLogonEventsProps)
	if v := r.p(pRemoteDeviceName); v != nil && v != undef {
		r.set("action.properties.RemoteDeviceName", v)
	}
}

func (r *record) deviceNetworkEvents() {
	r.setValue("event.dataset", "device_network_events")
	r.setConst("event.category", inNetwork)
	if r.fields != undef {
		r.set("source.mac", attr(r.fields, "Source Mac"))
		r.set("destination.mac", attr(r.fields, "Destination Mac"))
	}
	// An inbound connection is reported from the device's side: swap so
	// that source is the remote peer.
	action := r.actionType()
	inbound := action == "InboundConnectionAttempt" || action == "InboundConnectionAcknowledged" ||
		(action == "ConnectionAttempt" || action == "ConnectionAcknowledged") && attr(r.fields, "direction") == "In"
	if !inbound {
		return
	}
	if r.fields != undef {
		r.set("source.mac", attr(r.fields, "Destination Mac"))
		r.set("destination.mac", attr(r.fields, "Source Mac"))
	}
	if v := r.p(pRemotePort); v != nil && v != undef {
		r.set("source.port", v)
	}
	if s, ok := r.text(pRemoteIP); ok && validIP(s) {
		r.copy("source.ip", pRemoteIP)
	}
	if v := r.p(pLocalPort); v != nil && v != undef {
		r.set("destination.port", v)
	}
	if s, ok := r.text(pLocalIP); ok && validIP(s) {
		r.copy("destination.ip", pLocalIP)
	}
}

func (r *record) deviceNetworkInfo() {
	r.setValue("event.dataset", "device_network_info")
	r.setConst("event.category", inHost)
	r.setText("host.mac", `["`+str(r.p(pMacAddress))+`"]`)
	r.copy("microsoft.defender.observer.interface.name", pNetworkAdapterName)
	r.copy("microsoft.defender.observer.interface.type", pNetworkAdapterType)
	r.copy("microsoft.defender.observer.interface.status", pNetworkAdapterStatus)
	r.copy("microsoft.defender.observer.interface.dhcp.ipv4", pIPv4Dhcp)
	r.copy("microsoft.defender.observer.interface.dhcp.ipv6", pIPv6Dhcp)
	r.copy("microsoft.defender.observer.interface.dns", pDnsAddresses)
	r.copy("microsoft.defender.observer.interface.gateways", pDefaultGateways)
	r.copy("microsoft.defender.observer.interface.ips", pIPAddresses)
	r.copy("microsoft.defender.observer.interface.networks", pConnectedNetworks)
	r.copy("microsoft.defender.network.tunnel.protocol", pTunnelType)
}

func (r *record) deviceRegistryEvents() {
	r.setValue("event.dataset", "device_registry_events")
	r.setConst("event.category", inProcess)
	r.setProps(deviceRegistryEventsProps)
}

// index is Jinja's x[i] on a list (undefined when out of range).
func index(v any, i int) any {
	if l, ok := v.([]any); ok && i < len(l) {
		return l[i]
	}
	return undef
}
