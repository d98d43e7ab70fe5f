package normalize

// Values of event.type and event.category, shared by all documents (they
// are never modified once stored). They are held as interfaces so that
// passing one to setConst does not box its slice header each time.
var (
	inAuthentication     any = []any{"authentication"}
	inEmail              any = []any{"email"}
	inEmailConnection    any = []any{"email", "connection"}
	inFile               any = []any{"file"}
	inHost               any = []any{"host"}
	inIam                any = []any{"iam"}
	inIntrusionDetection any = []any{"intrusion_detection"}
	inNetwork            any = []any{"network"}
	inProcess            any = []any{"process"}
	inThreat             any = []any{"threat"}
	inWeb                any = []any{"web"}
	isIndicator          any = []any{"indicator"}
	isInfo               any = []any{"info"}
	isInfoAllowed        any = []any{"info", "allowed"}
	isInfoDenied         any = []any{"info", "denied"}
	isUser               any = []any{"user"}
)
