package normalize

// Properties copied as they are to action.properties.*.
var (
	identityQueryEventsProps = props("QueryType", "QueryTarget", "Query")
)

// Stages of the Identity* tables (Microsoft Defender for Identity, Entra ID).

func (r *record) identityDirectoryEvents() {
	r.setValue("event.dataset", "identity_directory_events")
	r.setValue("event.category", []any{"iam"})
}

func (r *record) identityInfo() {
	r.setValue("event.dataset", "identity_info")
	r.setValue("event.category", []any{"iam"})
	r.setValue("event.type", []any{"user"})
}

func (r *record) identityLogonEvents() {
	r.setValue("event.dataset", "identity_logon_events")
	r.setValue("event.category", []any{"authentication"})
	if r.p(pActionType) == "LogonSuccess" {
		r.setValue("event.outcome", "success")
	} else {
		r.setValue("event.outcome", "failure")
	}
}

func (r *record) identityQueryEvents() {
	r.setValue("event.dataset", "identity_query_events")
	r.setValue("event.category", []any{"iam"})
	r.setProps(identityQueryEventsProps)
}
