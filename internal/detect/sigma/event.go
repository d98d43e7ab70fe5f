package sigma

// Kind is the JSON type of a field value.
type Kind uint8

const (
	KindString Kind = iota
	KindNumber
	KindBool
	KindNull
)

// Value is one value of an event field. Numbers and booleans carry their
// JSON text in S ("80", "true"), so string comparisons see what the rule
// author wrote; objects and arrays nested below a field are given as their
// JSON text.
type Value struct {
	S    string
	Kind Kind
}

// Event is what the engine evaluates. Implementations must be cheap to
// call repeatedly, but the engine calls Get at most once per key and event
// (it caches the values, lowercased, for the duration of one evaluation).
type Event interface {
	// Table is the event's source table ("DeviceProcessEvents", ...); it
	// selects the rules that apply (see Mapper.Tables).
	Table() string
	// Get returns the values of a field key produced by the Mapper. ok is
	// false when the field is absent; a JSON null is present with
	// KindNull. The returned slice is only read until the next Get.
	Get(key string) (values []Value, ok bool)
}

// KeywordKey is the key the engine asks for keyword searches (detection
// lists without field names): the event should return the text the
// keywords are searched in (for Defender records, the raw record).
const KeywordKey = "\x00keywords"

// Logsource is a rule's logsource section.
type Logsource struct {
	Product  string `json:"product,omitempty"`
	Category string `json:"category,omitempty"`
	Service  string `json:"service,omitempty"`
}

// Mapper resolves a rule's logsource and field names. It is data (see
// package fieldmap): the engine asks it once, at compile time.
type Mapper interface {
	// Scope returns which events a logsource describes. An error means
	// the logsource has no equivalent, which makes the rule skipped with
	// that reason.
	Scope(ls Logsource) (Scope, error)
	// Field returns the Event key of a Sigma field name for a logsource.
	// ok false means the field has no equivalent: the rule is skipped
	// rather than evaluated against a field that can never be present.
	Field(ls Logsource, name string) (key string, ok bool)
}

// AllTables is the index bucket of rules that apply to every table.
const AllTables = "*"

// Scope is the set of events a logsource describes.
type Scope struct {
	// Tables are the tables whose events the rule meets; empty means every
	// table (rules on ECS fields that name no category).
	Tables []string
	// Require maps field keys to the values (compared case-insensitively)
	// one of which the event must also have: for example the Defender
	// ActionType that corresponds to a Sysmon event type. It is ANDed with
	// the rule's condition.
	Require map[string][]string
}
