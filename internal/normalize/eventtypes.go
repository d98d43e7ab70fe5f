package normalize

// Values of event.type and event.category, shared by all documents (they
// are never modified once stored).
var (
	inAuthentication     = []any{"authentication"}
	inEmail              = []any{"email"}
	inEmailConnection    = []any{"email", "connection"}
	inFile               = []any{"file"}
	inHost               = []any{"host"}
	inIam                = []any{"iam"}
	inIntrusionDetection = []any{"intrusion_detection"}
	inNetwork            = []any{"network"}
	inProcess            = []any{"process"}
	inThreat             = []any{"threat"}
	inWeb                = []any{"web"}
	isIndicator          = []any{"indicator"}
	isInfo               = []any{"info"}
	isInfoAllowed        = []any{"info", "allowed"}
	isInfoDenied         = []any{"info", "denied"}
	isUser               = []any{"user"}
)
