package normalize

// emailAuthKeys are the AuthenticationDetails results kept, with their
// fields.
var emailAuthKeys = []struct{ key, path string }{
	{"DKIM", "microsoft.defender.email_auth.DKIM"},
	{"DMARC", "microsoft.defender.email_auth.DMARC"},
	{"SPF", "microsoft.defender.email_auth.SPF"},
	{"CompAuth", "microsoft.defender.email_auth.CompAuth"},
}

// Properties copied as they are to action.properties.*.
var (
	emailEventsProps               = props("SenderFromDomain", "EmailClusterId", "EmailDirection", "DeliveryAction", "ConfidenceLevel", "EmailAction", "AttachmentCount", "UrlCount", "EmailLanguage", "Connectors", "OrgLevelAction", "OrgLevelPolicy", "UserLevelAction", "UserLevelPolicy", "AuthenticationDetails")
	emailPostDeliveryEventsProps   = props("ActionTrigger", "ActionResult")
	messageEventsProps             = props("ConfidenceLevel", "DeliveryAction", "IsOwnedThread", "IsExternalThread", "GroupId", "GroupName", "MessageId", "ParentMessageId", "RecipientDetails", "SenderEmailAddress", "SenderObjectId", "SenderType", "TeamsMessageId", "ThreadId", "ThreadSubtype")
	messageURLInfoProps            = props("TeamsMessageId")
	messagePostDeliveryEventsProps = props("ActionTrigger", "ActionResult", "SenderEmailAddress", "RecipientDetails", "ThreatTypes", "LatestDeliveryLocation", "IsExternalThread")
)

// Stages of the Email*, Message* (Teams) and UrlClickEvents tables
// (Microsoft Defender for Office 365).

func (r *record) emailAttachmentInfo() {
	r.setValue("event.dataset", "email_attachment_info")
	r.setConst("event.category", inEmail)
}

var emailDirections = map[string]string{"Inbound": "inbound", "Outbound": "outbound", "Intra-org": "internal"}

func (r *record) emailEvents() {
	r.setValue("event.dataset", "email_events")
	r.setConst("event.category", inEmail)
	r.copy("rule.name", pEmailActionPolicy)
	r.copy("rule.id", pEmailActionPolicyGuid)
	r.setProps(emailEventsProps)
	if r.authData != undef {
		for _, k := range emailAuthKeys {
			r.set(k.path, attr(r.authData, k.key))
		}
	}
	if d, ok := r.p(pEmailDirection).(string); ok {
		if v, known := emailDirections[d]; known {
			r.setValue("email.direction", v)
		}
	}
	delivery := r.p(pDeliveryAction)
	if delivery == "Delivered" {
		r.setConst("event.type", isInfoAllowed)
	} else {
		r.setConst("event.type", isInfoDenied)
	}
	if delivery != nil && delivery != undef {
		r.setConst("event.category", inEmailConnection)
	}
}

func (r *record) emailPostDeliveryEvents() {
	r.setValue("event.dataset", "email_post_delivery_events")
	r.setConst("event.category", inEmail)
	r.setProps(emailPostDeliveryEventsProps)
}

func (r *record) emailURLInfo() {
	r.setValue("event.dataset", "email_url_info")
	r.setConst("event.category", inEmail)
}

func (r *record) urlClickEvents() {
	r.setValue("event.dataset", "url_click_events")
	r.setConst("event.category", inWeb)
	r.setConst("event.type", isInfo)
}

func (r *record) messageEvents() {
	r.setValue("event.dataset", "message_events")
	r.setProps(messageEventsProps)
}

func (r *record) messageURLInfo() {
	r.setValue("event.dataset", "message_url_info")
	r.setProps(messageURLInfoProps)
}

func (r *record) messagePostDeliveryEvents() {
	r.setValue("event.dataset", "message_post_delivery_events")
	r.setProps(messagePostDeliveryEventsProps)
}
