package normalize

// Properties copied as they are to action.properties.*.
var (
	cloudAppEventsProps                = props("IsAdminOperation", "IsAnonymousProxy", "RawEventData", "IsExternalUser", "IsImpersonated", "IPTags", "IPCategory", "UserAgentTags")
	cloudAuditEventsProps              = props("ActionType", "DataSource", "IsAnonymousProxy", "GcpFullResourceName", "AwsResourceName", "AzureResourceId", "RawEventData")
	cloudProcessEventsProps            = props("ActionType", "AzureResourceId", "AwsResourceName", "ContainerId", "ContainerImageName", "ContainerName", "GcpFullResourceName", "KubernetesNamespace", "KubernetesPodName", "KubernetesResource", "LogonId")
	cloudStorageAggregatedEventsProps  = props("AccountApplicationId", "AccountObjectId", "AccountTenantId", "AccountType")
	cloudStorageAggregatedEventsProps2 = props("AuthenticationType", "AzureResourceId", "DataSource", "OperationNamesList", "OperationsCount", "SuccessfulOperationsCount", "FailedOperationsCount", "SuccessfulReadOperations", "DistinctGetOperations", "AnonymousSuccessfulOperations", "HasAnonymousResourceNotFoundFailures", "ResourceGroup", "SubscriptionId", "StorageAccount", "StorageContainer", "StorageFileShare", "ServiceType", "UserAgentHeader", "Location", "ClientSystemServiceName", "ClientCloudPlatformName", "IsTorExitNode", "IsKnownSuspiciousIp", "IsPrivateIp", "HashReputationMd5List", "SuspiciousUserAgentName")
)

// Stages of the Cloud* tables (Defender for Cloud Apps, Defender for Cloud).

func (r *record) cloudAppEvents() {
	r.setConst("event.category", inNetwork)
	if r.actionType() == "AirInvestigationData" {
		r.setConst("event.category", inIntrusionDetection)
	}
	r.setValue("event.dataset", "cloud_app_events")
	r.setConst("event.type", isInfo)
	r.setProps(cloudAppEventsProps)
	r.set("microsoft.defender.investigation.id", r.propAttr(pRawEventData, "InvestigationId"))
	r.set("microsoft.defender.investigation.name", r.propAttr(pRawEventData, "InvestigationName"))
	r.set("microsoft.defender.investigation.type", r.propAttr(pRawEventData, "InvestigationType"))
	r.set("microsoft.defender.investigation.status", r.propAttr(pRawEventData, "Status"))
	r.emailAttachments()
}

// emailAttachments lists the SHA256 of the files of the entities of an
// investigation. The reference writes the objects one after another with
// no separator, so it only yields a list for a single attachment; this
// keeps that behaviour for compatibility (more than one gives no field).
func (r *record) emailAttachments() {
	text := []byte{'['}
	for _, entity := range iter(attr(r.rawData, "Entities")) {
		for _, file := range iter(attr(entity, "Files")) {
			for _, h := range iter(attr(file, "FileHashes")) {
				if attr(h, "Algorithm") != "SHA256" {
					continue
				}
				text = append(text, `{"file": {"name": "`+str(attr(file, "Name"))+
					`", "hash": {"sha256": "`+str(attr(h, "Value"))+`"}}}`...)
			}
		}
	}
	text = append(text, ']')
	r.setText("email.attachments", string(text))
}

// iter is a Jinja for loop's view of a value: lists, and the keys of dicts.
func iter(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case *dict:
		keys := make([]any, len(x.keys))
		for i, k := range x.keys {
			keys[i] = k
		}
		return keys
	}
	return nil
}

func (r *record) cloudAuditEvents() {
	r.setValue("event.dataset", "cloud_audit_events")
	r.setConst("event.category", inNetwork)
	r.setConst("event.type", isInfo)
	r.copy("cloud.account.id", pAccount)
	r.copy("user_agent.original", pUserAgent)
	r.setProps(cloudAuditEventsProps)
}

func (r *record) cloudProcessEvents() {
	r.setValue("event.dataset", "cloud_process_events")
	r.setConst("event.category", inProcess)
	r.setConst("event.type", isInfo)
	r.copy("file.name", pFileName)
	r.copy("process.name", pProcessName)
	r.copy("process.parent.name", pParentProcessName)
	r.copy("process.parent.pid", pParentProcessId)
	r.copy("process.working_directory", pProcessCurrentWorkingDirectory)
	r.setProps(cloudProcessEventsProps)
}

func (r *record) cloudStorageAggregatedEvents() {
	r.setValue("event.dataset", "cloud_storage_aggregate_events")
	r.setConst("event.category", inNetwork)
	r.setConst("event.type", isInfo)
	r.copy("user_agent.original", pUserAgent)
	r.copy("client.geo.country_name", pCountryName)
	r.copy("client.geo.region_name", pProvinceName)
	r.copy("client.geo.city_name", pCityName)
	r.setProps(cloudStorageAggregatedEventsProps)
	r.copy("action.properties.AccountUPN", pAccountUpn)
	r.setProps(cloudStorageAggregatedEventsProps2)
}
