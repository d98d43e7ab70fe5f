package normalize

import "strings"

// Stages of the Alert* tables (alerts of every Defender product).

func (r *record) alertEvidence() {
	r.setValue("event.dataset", "alert_evidence")
	r.setValue("event.kind", "enrichment")
	r.setConst("event.category", inThreat)
	r.setConst("event.type", isIndicator)
	r.copy("user.id", pAccountObjectId)
	r.copy("microsoft.defender.entity.type", pEntityType)
	r.copy("microsoft.defender.evidence.role", pEvidenceRole)
	r.copy("microsoft.defender.evidence.direction", pEvidenceDirection)
	r.copy("microsoft.defender.threat.family", pThreatFamily)
	r.copy("microsoft.defender.threat.severity", pSeverity)
	f := r.fields
	if f == undef {
		// AdditionalFields was absent or empty: nothing more to map.
		return
	}
	r.set("microsoft.defender.threat.detection_status", attr(f, "DetectionStatus"))
	r.set("microsoft.defender.threat.suspicion_level", attr(f, "SuspicionLevel"))
	host := attr(f, "Host")
	r.set("microsoft.defender.threat.host.remediation_providers", attr(host, "RemediationProviders"))
	r.set("microsoft.defender.threat.host.last_remediation_state", attr(host, "LastRemediationState"))
	r.set("microsoft.defender.threat.remediation_providers", attr(f, "RemediationProviders"))
	r.set("microsoft.defender.threat.last_remediation_state", attr(f, "LastRemediationState"))
	if v := attr(f, "Recipient"); !isNone(v) {
		r.setValue("email.to.address", []any{native(v)})
	}
	r.set("source.ip", attr(f, "SenderIp"))
	r.set("email.sender.address", attr(f, "Sender"))
	if id, ok := attr(f, "InternetMessageId").(string); ok {
		r.set("email.message_id", strings.Trim(strings.Trim(id, ">"), "<"))
	}
	urls := attr(f, "Urls")
	r.set("microsoft.defender.threat.urls", urls)
	r.set("url.original", first(urls))
	r.set("action.properties.AttachmentCount", attr(f, "AttachmentCount"))
	r.set("action.properties.UrlCount", attr(f, "UrlCount"))
	r.set("process.pid", attr(f, "ProcessId"))
	r.set("process.name", attr(attr(f, "ImageFile"), "Name"))
	parent := attr(f, "ParentProcess")
	r.set("process.parent.pid", attr(parent, "ProcessId"))
	r.set("process.parent.command_line", attr(parent, "CommandLine"))
}

func (r *record) alertInfo() {
	r.setValue("event.dataset", "alert_info")
	r.setValue("event.kind", "alert")
	r.setConst("event.category", inThreat)
	r.setConst("event.type", isInfo)
	r.copy("threat.technique.name", pAttackTechniques)
	r.copy("microsoft.defender.threat.category", pCategory)
	r.copy("microsoft.defender.threat.severity", pSeverity)
}

// first is Jinja's `first` filter.
func first(v any) any {
	switch x := v.(type) {
	case []any:
		if len(x) > 0 {
			return x[0]
		}
	case string:
		if x != "" {
			return string([]rune(x)[:1])
		}
	}
	return undef
}
