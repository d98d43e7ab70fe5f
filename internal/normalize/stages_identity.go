package normalize

// Properties copied as they are to action.properties.*.
var (
	identityQueryEventsProps = props("QueryType", "QueryTarget", "Query")
)

// Stages of the Identity* tables (Microsoft Defender for Identity, Entra ID).

func (r *record) identityDirectoryEvents() {
	r.setValue("event.dataset", "identity_directory_events")
	r.setConst("event.category", inIam)
}

func (r *record) identityInfo() {
	r.setValue("event.dataset", "identity_info")
	r.setConst("event.category", inIam)
	r.setConst("event.type", isUser)
}

func (r *record) identityLogonEvents() {
	r.setValue("event.dataset", "identity_logon_events")
	r.setConst("event.category", inAuthentication)
	if r.actionType() == "LogonSuccess" {
		r.setValue("event.outcome", "success")
	} else {
		r.setValue("event.outcome", "failure")
	}
}

func (r *record) identityQueryEvents() {
	r.setValue("event.dataset", "identity_query_events")
	r.setConst("event.category", inIam)
	r.setProps(identityQueryEventsProps)
}
