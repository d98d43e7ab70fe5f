package normalize

// Stages of the Device* tables (Microsoft Defender for Endpoint).

// deviceProcessEvents maps the created process to process.* and its
// initiating process to process.parent.* (set_process_deviceprocess_events
// and set_device_process_events_fields).
func (r *record) deviceProcessEvents() {
	r.set("action.properties.InitiatingProcessParentFileName", basename(r.p("InitiatingProcessParentFileName")))
	r.set("process.parent.code_signature.status", r.p("InitiatingProcessSignatureStatus"))
	r.set("process.parent.code_signature.subject_name", r.p("InitiatingProcessSignerType"))
	r.set("process.parent.command_line", r.p("InitiatingProcessCommandLine"))
	r.set("process.parent.executable", r.p("InitiatingProcessFolderPath"))
	r.set("process.parent.hash.md5", or(r.top("InitiatingProcessMD5"), r.p("InitiatingProcessMD5")))
	r.set("process.parent.hash.sha1", or(r.top("InitiatingProcessSHA1"), r.p("InitiatingProcessSHA1")))
	r.set("process.parent.hash.sha256", or(r.top("InitiatingProcessSHA256"), r.p("InitiatingProcessSHA256")))
	r.set("process.parent.name", basename(r.p("InitiatingProcessFileName")))
	r.set("process.parent.pid", r.p("InitiatingProcessId"))
	r.set("process.parent.start", r.p("InitiatingProcessCreationTime"))
	r.set("process.parent.user.domain", r.p("InitiatingProcessAccountDomain"))
	r.set("process.parent.user.name", r.p("InitiatingProcessAccountName"))
	r.set("process.parent.user.id", r.p("InitiatingProcessAccountSid"))
	r.set("process.parent.user.email", r.p("InitiatingProcessAccountUpn"))
	r.set("process.parent.working_directory", dirname(r.p("InitiatingProcessFolderPath")))
	r.set("process.pid", r.p("ProcessId"))
	r.set("process.start", r.p("ProcessCreationTime"))
	r.set("process.name", basename(r.p("FileName")))
	r.set("process.command_line", r.p("ProcessCommandLine"))
	r.set("process.executable", r.p("FolderPath"))
	r.set("process.working_directory", dirname(r.p("FolderPath")))
	r.setProps("ProcessTokenElevation", "ProcessIntegrityLevel",
		"ProcessVersionInfoCompanyName", "ProcessVersionInfoFileDescription",
		"ProcessVersionInfoInternalFileName", "ProcessVersionInfoOriginalFileName",
		"ProcessVersionInfoProductName", "ProcessVersionInfoProductVersion")
	r.initiatingProcessProps()
	r.setArgs("process.parent.args", "InitiatingProcessCommandLine")
	r.setArgs("process.args", "ProcessCommandLine")

	// The table has no OS field; the reference infers it from fields that
	// only some agents fill: a POSIX session id (Linux and macOS), an
	// account SID (Windows and macOS), a unique process id (Windows).
	if r.fields != undef {
		posix := attr(r.fields, "InitiatingProcessPosixSessionId")
		sid := r.p("AccountSid")
		if !isNone(posix) {
			if sid == undef || sid == nil {
				r.setValue("host.os.type", "linux")
			} else if n, ok := length(sid); ok && n > 1 {
				r.setValue("host.os.type", "macos")
			}
		}
	}
	if n, ok := length(r.p("InitiatingProcessUniqueId")); ok && n > 1 {
		r.setValue("host.os.type", "windows")
	}

	r.setValue("event.dataset", "device_process_events")
	r.setValue("event.category", []any{"process"})
}

func (r *record) deviceEvents() {
	r.setValue("event.dataset", "device_events")
	r.setValue("event.category", []any{"host"})
	r.setProps("RemoteDeviceName")
	f := r.fields
	if f == undef {
		return
	}
	set := func(path, key string) {
		if v := attr(f, key); !isNone(v) {
			r.set(path, v)
		}
	}
	switch r.p("ActionType") {
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
	r.setValue("event.category", []any{"file"})
	r.set("file.x509.serial_number", r.p("CertificateSerialNumber"))
	r.set("file.x509.not_after", r.p("CertificateExpirationTime"))
	r.set("microsoft.defender.certificate.is_signed", r.p("IsSigned"))
	r.set("microsoft.defender.certificate.is_trusted", r.p("IsTrusted"))
	r.set("microsoft.defender.certificate.is_root_signer_microsort", r.p("IsRootSignerMicrosoft"))
	r.set("microsoft.defender.certificate.signature_type", r.p("SignatureType"))
	r.set("microsoft.defender.certificate.issuer.name", r.p("Issuer"))
	r.set("microsoft.defender.certificate.issuer.hash", r.p("IssuerHash"))
	r.set("microsoft.defender.certificate.signer.name", r.p("Signer"))
	r.set("microsoft.defender.certificate.signer.hash", r.p("SignerHash"))
	r.set("microsoft.defender.certificate.crl.urls", r.p("CrlDistributionPointUrls"))
	r.set("microsoft.defender.certificate.created_at", r.p("CertificateCreationTime"))
	r.set("microsoft.defender.certificate.counter_signed_at", r.p("CertificateCountersignatureTime"))
}

func (r *record) deviceFileEvents() {
	r.setValue("event.dataset", "device_file_events")
	r.setValue("event.category", []any{"file"})
	r.setProps("PreviousFolderPath", "PreviousFileName", "RequestAccountSid", "ShareName",
		"SensitivityLabel", "SensitivitySubLabel", "IsAzureInfoProtectionApplied")
}

func (r *record) deviceImageLoadEvents() {
	r.setValue("event.dataset", "device_image_load_events")
	r.setValue("event.category", []any{"process"})
}

func (r *record) deviceInfo() {
	r.setValue("event.dataset", "device_info_events")
	r.setValue("event.category", []any{"host"})
	r.set("microsoft.defender.host.model", r.p("Model"))
	r.set("microsoft.defender.host.vendor", r.p("Vendor"))
	r.set("microsoft.defender.host.category", r.p("DeviceCategory"))
	r.set("microsoft.defender.host.subtype", r.p("DeviceSubType"))
	r.set("microsoft.defender.host.os.build", r.p("OSBuild"))
	r.set("microsoft.defender.host.os.version", r.p("OSVersionInfo"))
	r.setProps("IsAzureADJoined", "AadDeviceId", "LoggedOnUsers", "RegistryDeviceTag",
		"MachineGroup", "OnboardingStatus", "MergedDeviceIds", "MergedToDeviceId", "JoinType")
	if n, ok := length(r.users); ok && n > 0 {
		first := index(r.users, 0)
		r.set("user.name", attr(first, "UserName"))
		r.set("user.domain", attr(first, "DomainName"))
		r.set("user.id", attr(first, "Sid"))
	}
}

func (r *record) deviceLogonEvents() {
	r.setValue("event.dataset", "device_logon_events")
	r.setValue("event.category", []any{"authentication"})
	switch r.p("ActionType") {
	case "LogonSuccess":
		r.setValue("event.outcome", "success")
	case "LogonFailed":
		r.setValue("event.outcome", "failure")
	default:
		r.setValue("event.outcome", "unknown")
	}
	r.setProps("RemoteIPType", "IsLocalAdmin")
	if v := r.p("RemoteDeviceName"); v != nil && v != undef {
		r.set("action.properties.RemoteDeviceName", v)
	}
}

func (r *record) deviceNetworkEvents() {
	r.setValue("event.dataset", "device_network_events")
	r.setValue("event.category", []any{"network"})
	if r.fields != undef {
		r.set("source.mac", attr(r.fields, "Source Mac"))
		r.set("destination.mac", attr(r.fields, "Destination Mac"))
	}
	// An inbound connection is reported from the device's side: swap so
	// that source is the remote peer.
	action := r.p("ActionType")
	inbound := action == "InboundConnectionAttempt" || action == "InboundConnectionAcknowledged" ||
		(action == "ConnectionAttempt" || action == "ConnectionAcknowledged") && attr(r.fields, "direction") == "In"
	if !inbound {
		return
	}
	if r.fields != undef {
		r.set("source.mac", attr(r.fields, "Destination Mac"))
		r.set("destination.mac", attr(r.fields, "Source Mac"))
	}
	if v := r.p("RemotePort"); v != nil && v != undef {
		r.set("source.port", v)
	}
	if v := r.p("RemoteIP"); isIP(v) {
		r.set("source.ip", v)
	}
	if v := r.p("LocalPort"); v != nil && v != undef {
		r.set("destination.port", v)
	}
	if v := r.p("LocalIP"); isIP(v) {
		r.set("destination.ip", v)
	}
}

func (r *record) deviceNetworkInfo() {
	r.setValue("event.dataset", "device_network_info")
	r.setValue("event.category", []any{"host"})
	r.setText("host.mac", `["`+str(r.p("MacAddress"))+`"]`)
	r.set("microsoft.defender.observer.interface.name", r.p("NetworkAdapterName"))
	r.set("microsoft.defender.observer.interface.type", r.p("NetworkAdapterType"))
	r.set("microsoft.defender.observer.interface.status", r.p("NetworkAdapterStatus"))
	r.set("microsoft.defender.observer.interface.dhcp.ipv4", r.p("IPv4Dhcp"))
	r.set("microsoft.defender.observer.interface.dhcp.ipv6", r.p("IPv6Dhcp"))
	r.set("microsoft.defender.observer.interface.dns", r.p("DnsAddresses"))
	r.set("microsoft.defender.observer.interface.gateways", r.p("DefaultGateways"))
	r.set("microsoft.defender.observer.interface.ips", r.p("IPAddresses"))
	r.set("microsoft.defender.observer.interface.networks", r.p("ConnectedNetworks"))
	r.set("microsoft.defender.network.tunnel.protocol", r.p("TunnelType"))
}

func (r *record) deviceRegistryEvents() {
	r.setValue("event.dataset", "device_registry_events")
	r.setValue("event.category", []any{"process"})
	r.setProps("PreviousRegistryKey", "PreviousRegistryValueData", "PreviousRegistryValueName")
}

// index is Jinja's x[i] on a list (undefined when out of range).
func index(v any, i int) any {
	if l, ok := v.([]any); ok && i < len(l) {
		return l[i]
	}
	return undef
}
