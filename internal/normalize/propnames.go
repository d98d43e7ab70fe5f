package normalize

// The properties the mapping reads by name, each with a number: a record's
// properties are indexed once into an array by these numbers, and the
// mapping then reads them without hashing their names again.
var (
	pAccount                                  = propName("Account")
	pAccountDisplayName                       = propName("AccountDisplayName")
	pAccountDomain                            = propName("AccountDomain")
	pAccountName                              = propName("AccountName")
	pAccountObjectId                          = propName("AccountObjectId")
	pAccountSid                               = propName("AccountSid")
	pAccountUpn                               = propName("AccountUpn")
	pAction                                   = propName("Action")
	pActionType                               = propName("ActionType")
	pActivityObjects                          = propName("ActivityObjects")
	pActivityType                             = propName("ActivityType")
	pAdditionalFields                         = propName("AdditionalFields")
	pAlertId                                  = propName("AlertId")
	pAppGuardContainerId                      = propName("AppGuardContainerId")
	pAttackTechniques                         = propName("AttackTechniques")
	pAuthenticationDetails                    = propName("AuthenticationDetails")
	pCategory                                 = propName("Category")
	pCertificateCountersignatureTime          = propName("CertificateCountersignatureTime")
	pCertificateCreationTime                  = propName("CertificateCreationTime")
	pCertificateExpirationTime                = propName("CertificateExpirationTime")
	pCertificateSerialNumber                  = propName("CertificateSerialNumber")
	pCity                                     = propName("City")
	pCityName                                 = propName("CityName")
	pClientVersion                            = propName("ClientVersion")
	pConnectedNetworks                        = propName("ConnectedNetworks")
	pCountryName                              = propName("CountryName")
	pCrlDistributionPointUrls                 = propName("CrlDistributionPointUrls")
	pDefaultGateways                          = propName("DefaultGateways")
	pDeliveryAction                           = propName("DeliveryAction")
	pDestinationIPAddress                     = propName("DestinationIPAddress")
	pDestinationPort                          = propName("DestinationPort")
	pDetectionMethods                         = propName("DetectionMethods")
	pDetectionSource                          = propName("DetectionSource")
	pDeviceCategory                           = propName("DeviceCategory")
	pDeviceId                                 = propName("DeviceId")
	pDeviceName                               = propName("DeviceName")
	pDeviceSubType                            = propName("DeviceSubType")
	pDeviceType                               = propName("DeviceType")
	pDnsAddresses                             = propName("DnsAddresses")
	pEmailActionPolicy                        = propName("EmailActionPolicy")
	pEmailActionPolicyGuid                    = propName("EmailActionPolicyGuid")
	pEmailDirection                           = propName("EmailDirection")
	pEmailSubject                             = propName("EmailSubject")
	pEntityType                               = propName("EntityType")
	pEvidenceDirection                        = propName("EvidenceDirection")
	pEvidenceRole                             = propName("EvidenceRole")
	pFailureReason                            = propName("FailureReason")
	pFileName                                 = propName("FileName")
	pFileOriginUrl                            = propName("FileOriginUrl")
	pFileSize                                 = propName("FileSize")
	pFolderPath                               = propName("FolderPath")
	pIPAddress                                = propName("IPAddress")
	pIPAddresses                              = propName("IPAddresses")
	pIPv4Dhcp                                 = propName("IPv4Dhcp")
	pIPv6Dhcp                                 = propName("IPv6Dhcp")
	pISP                                      = propName("ISP")
	pInitiatingProcessAccountDomain           = propName("InitiatingProcessAccountDomain")
	pInitiatingProcessAccountName             = propName("InitiatingProcessAccountName")
	pInitiatingProcessAccountSid              = propName("InitiatingProcessAccountSid")
	pInitiatingProcessAccountUpn              = propName("InitiatingProcessAccountUpn")
	pInitiatingProcessCommandLine             = propName("InitiatingProcessCommandLine")
	pInitiatingProcessCreationTime            = propName("InitiatingProcessCreationTime")
	pInitiatingProcessFileName                = propName("InitiatingProcessFileName")
	pInitiatingProcessFolderPath              = propName("InitiatingProcessFolderPath")
	pInitiatingProcessId                      = propName("InitiatingProcessId")
	pInitiatingProcessMD5                     = propName("InitiatingProcessMD5")
	pInitiatingProcessParentCreationTime      = propName("InitiatingProcessParentCreationTime")
	pInitiatingProcessParentFileName          = propName("InitiatingProcessParentFileName")
	pInitiatingProcessParentId                = propName("InitiatingProcessParentId")
	pInitiatingProcessRemoteSessionDeviceName = propName("InitiatingProcessRemoteSessionDeviceName")
	pInitiatingProcessRemoteSessionIP         = propName("InitiatingProcessRemoteSessionIP")
	pInitiatingProcessSHA1                    = propName("InitiatingProcessSHA1")
	pInitiatingProcessSHA256                  = propName("InitiatingProcessSHA256")
	pInitiatingProcessSignatureStatus         = propName("InitiatingProcessSignatureStatus")
	pInitiatingProcessSignerType              = propName("InitiatingProcessSignerType")
	pInitiatingProcessUniqueId                = propName("InitiatingProcessUniqueId")
	pInternetMessageId                        = propName("InternetMessageId")
	pIsRootSignerMicrosoft                    = propName("IsRootSignerMicrosoft")
	pIsSigned                                 = propName("IsSigned")
	pIsTrusted                                = propName("IsTrusted")
	pIsp                                      = propName("Isp")
	pIssuer                                   = propName("Issuer")
	pIssuerHash                               = propName("IssuerHash")
	pLocalIP                                  = propName("LocalIP")
	pLocalPort                                = propName("LocalPort")
	pLoggedOnUsers                            = propName("LoggedOnUsers")
	pMD5                                      = propName("MD5")
	pMacAddress                               = propName("MacAddress")
	pModel                                    = propName("Model")
	pNetworkAdapterName                       = propName("NetworkAdapterName")
	pNetworkAdapterStatus                     = propName("NetworkAdapterStatus")
	pNetworkAdapterType                       = propName("NetworkAdapterType")
	pNetworkMessageId                         = propName("NetworkMessageId")
	pOSArchitecture                           = propName("OSArchitecture")
	pOSBuild                                  = propName("OSBuild")
	pOSDistribution                           = propName("OSDistribution")
	pOSPlatform                               = propName("OSPlatform")
	pOSVersion                                = propName("OSVersion")
	pOSVersionInfo                            = propName("OSVersionInfo")
	pParentProcessId                          = propName("ParentProcessId")
	pParentProcessName                        = propName("ParentProcessName")
	pProcessCommandLine                       = propName("ProcessCommandLine")
	pProcessCreationTime                      = propName("ProcessCreationTime")
	pProcessCurrentWorkingDirectory           = propName("ProcessCurrentWorkingDirectory")
	pProcessId                                = propName("ProcessId")
	pProcessName                              = propName("ProcessName")
	pProtocol                                 = propName("Protocol")
	pProvinceName                             = propName("ProvinceName")
	pPublicIP                                 = propName("PublicIP")
	pRawEventData                             = propName("RawEventData")
	pRecipientEmailAddress                    = propName("RecipientEmailAddress")
	pRegistryKey                              = propName("RegistryKey")
	pRegistryValueData                        = propName("RegistryValueData")
	pRegistryValueName                        = propName("RegistryValueName")
	pRegistryValueType                        = propName("RegistryValueType")
	pRemoteDeviceName                         = propName("RemoteDeviceName")
	pRemoteIP                                 = propName("RemoteIP")
	pRemotePort                               = propName("RemotePort")
	pRemoteUrl                                = propName("RemoteUrl")
	pReportId                                 = propName("ReportId")
	pRequestAccountDomain                     = propName("RequestAccountDomain")
	pRequestAccountName                       = propName("RequestAccountName")
	pRequestProtocol                          = propName("RequestProtocol")
	pRequestSourceIP                          = propName("RequestSourceIP")
	pRequestSourcePort                        = propName("RequestSourcePort")
	pSHA1                                     = propName("SHA1")
	pSHA256                                   = propName("SHA256")
	pSenderFromAddress                        = propName("SenderFromAddress")
	pSenderIPv4                               = propName("SenderIPv4")
	pSenderIPv6                               = propName("SenderIPv6")
	pServiceSource                            = propName("ServiceSource")
	pSeverity                                 = propName("Severity")
	pSignatureType                            = propName("SignatureType")
	pSigner                                   = propName("Signer")
	pSignerHash                               = propName("SignerHash")
	pSubject                                  = propName("Subject")
	pThreatFamily                             = propName("ThreatFamily")
	pThreatNames                              = propName("ThreatNames")
	pThreatTypes                              = propName("ThreatTypes")
	pTimestamp                                = propName("Timestamp")
	pTitle                                    = propName("Title")
	pTunnelType                               = propName("TunnelType")
	pUrl                                      = propName("Url")
	pUrlDomain                                = propName("UrlDomain")
	pUrlLocation                              = propName("UrlLocation")
	pUserAgent                                = propName("UserAgent")
	pVendor                                   = propName("Vendor")
)

// propID numbers a property name the mapping reads.
type propID int

// propIDs and propNamesByID are filled at package initialization by
// propName and only read afterwards.
var (
	propIDs       = newStrTable(512)
	propNamesByID []string
)

// propName registers a property the mapping reads and returns its number.
func propName(name string) propID {
	if id, ok := propIDs.get(name); ok {
		return propID(id)
	}
	id := propID(len(propNamesByID))
	propIDs.put(name, int32(id))
	propNamesByID = append(propNamesByID, name)
	return id
}

// propIndex holds one record's properties by number. Slots carry the
// number of the record they belong to, so that the index is reused from
// record to record without being cleared. The mapping probes every
// property it knows for each record, most of them absent, so the slots are
// kept small (16 bytes) and the rarely needed converted values apart.
type propIndex struct {
	slots     []propSlot
	converted []convertedProp
	gen       uint64
}

type propSlot struct {
	gen uint64
	v   *jsonValue
}

// convertedProp is fromJSON of a property, kept once made for the record
// of number gen.
type convertedProp struct {
	gen   uint64
	value any
}

func newPropIndex() *propIndex {
	return &propIndex{
		slots:     make([]propSlot, len(propNamesByID)),
		converted: make([]convertedProp, len(propNamesByID)),
	}
}

// next starts a new record.
func (x *propIndex) next() { x.gen++ }

// add indexes a property of the record; properties the mapping never
// reads are ignored.
func (x *propIndex) add(name string, v *jsonValue) {
	if id, ok := propIDs.get(name); ok {
		x.slots[id] = propSlot{gen: x.gen, v: v}
	}
}

// get returns the property, or nil when the record has none of that name.
func (x *propIndex) get(id propID) *jsonValue {
	if s := &x.slots[id]; s.gen == x.gen {
		return s.v
	}
	return nil
}
