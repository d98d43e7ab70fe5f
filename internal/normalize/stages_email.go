package normalize

// Stages of the Email*, Message* (Teams) and UrlClickEvents tables
// (Microsoft Defender for Office 365).

func (r *record) emailAttachmentInfo() {
	r.setValue("event.dataset", "email_attachment_info")
	r.setValue("event.category", []any{"email"})
}

var emailDirections = map[string]string{"Inbound": "inbound", "Outbound": "outbound", "Intra-org": "internal"}

func (r *record) emailEvents() {
	r.setValue("event.dataset", "email_events")
	r.setValue("event.category", []any{"email"})
	r.set("rule.name", r.p("EmailActionPolicy"))
	r.set("rule.id", r.p("EmailActionPolicyGuid"))
	r.setProps("SenderFromDomain", "EmailClusterId", "EmailDirection", "DeliveryAction",
		"ConfidenceLevel", "EmailAction", "AttachmentCount", "UrlCount", "EmailLanguage",
		"Connectors", "OrgLevelAction", "OrgLevelPolicy", "UserLevelAction", "UserLevelPolicy",
		"AuthenticationDetails")
	if r.authData != undef {
		for _, k := range []string{"DKIM", "DMARC", "SPF", "CompAuth"} {
			r.set("microsoft.defender.email_auth."+k, attr(r.authData, k))
		}
	}
	if d, ok := r.p("EmailDirection").(string); ok {
		if v, known := emailDirections[d]; known {
			r.setValue("email.direction", v)
		}
	}
	delivery := r.p("DeliveryAction")
	if delivery == "Delivered" {
		r.setValue("event.type", []any{"info", "allowed"})
	} else {
		r.setValue("event.type", []any{"info", "denied"})
	}
	if delivery != nil && delivery != undef {
		r.setValue("event.category", []any{"email", "connection"})
	}
}

func (r *record) emailPostDeliveryEvents() {
	r.setValue("event.dataset", "email_post_delivery_events")
	r.setValue("event.category", []any{"email"})
	r.setProps("ActionTrigger", "ActionResult")
}

func (r *record) emailURLInfo() {
	r.setValue("event.dataset", "email_url_info")
	r.setValue("event.category", []any{"email"})
}

func (r *record) urlClickEvents() {
	r.setValue("event.dataset", "url_click_events")
	r.setValue("event.category", []any{"web"})
	r.setValue("event.type", []any{"info"})
}

func (r *record) messageEvents() {
	r.setValue("event.dataset", "message_events")
	r.setProps("ConfidenceLevel", "DeliveryAction", "IsOwnedThread", "IsExternalThread",
		"GroupId", "GroupName", "MessageId", "ParentMessageId", "RecipientDetails",
		"SenderEmailAddress", "SenderObjectId", "SenderType", "TeamsMessageId", "ThreadId",
		"ThreadSubtype")
}

func (r *record) messageURLInfo() {
	r.setValue("event.dataset", "message_url_info")
	r.setProps("TeamsMessageId")
}

func (r *record) messagePostDeliveryEvents() {
	r.setValue("event.dataset", "message_post_delivery_events")
	r.setProps("ActionTrigger", "ActionResult", "SenderEmailAddress", "RecipientDetails",
		"ThreatTypes", "LatestDeliveryLocation", "IsExternalThread")
}
