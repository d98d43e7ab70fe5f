package normalize

import (
	"reflect"
	"testing"
)

// Converting an object decoded from text (AdditionalFields, RawEventData)
// costs one allocation per dict of up to 16 keys and none per string: the
// strings are boxed in the parser's value slots, and one per list of up
// to 8 items. It was one allocation per string, three per dict and two
// per list: most of a mixed record's allocations.
func TestFromJSONAllocations(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		max  float64
	}{
		{"flat object of strings", `{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6","g":"7","h":"8"}`, 1},
		{"nested objects", `{"Name":"x","Ip":{"Address":"10.0.0.1","Kind":"v4"},"Tags":{"t":"y"}}`, 3},
		{"lists", `{"a":["x","y"],"b":[1,2,3,4,5],"c":[]}`, 4},
		{"17 keys (indexed)", `{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6","g":"7","h":"8","i":"9","j":"10","k":"11","l":"12","m":"13","n":"14","o":"15","p":"16","q":"17"}`, 6},
	} {
		var p jsonParser
		j, err := p.parse(tc.text)
		if err != nil {
			t.Fatal(err)
		}
		if got := testing.AllocsPerRun(100, func() { _ = fromJSON(j) }); got > tc.max {
			t.Errorf("%s: %.0f allocations, want at most %.0f", tc.name, got, tc.max)
		}
	}
}

// Values boxed in a parser's slots must keep their value as long as the
// parser does not parse again, and literal evaluation, whose parsers are
// reused at once, must not box in slots: an earlier literal's strings
// stay what they were after later ones.
func TestConvertedStringsKeepTheirValue(t *testing.T) {
	first, ok := jsonLiteral(`{"user":"alice","groups":["admins","ops"]}`)
	if !ok {
		t.Fatal("not a JSON literal")
	}
	want := &dict{keys: []string{"user", "groups"}, vals: []any{"alice", []any{"admins", "ops"}}}
	for range 20 {
		if _, ok := jsonLiteral(`{"user":"mallory","groups":["guests","nobody","x"]}`); !ok {
			t.Fatal("not a JSON literal")
		}
	}
	if !reflect.DeepEqual(first, want) {
		t.Errorf("after later literals: %#v, want %#v", first, want)
	}
	var p jsonParser
	j, err := p.parse(`{"a":"text","b":["x",{"c":"y"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	got := fromJSON(j)
	wantSlots := &dict{keys: []string{"a", "b"}, vals: []any{"text", []any{"x", &dict{keys: []string{"c"}, vals: []any{"y"}}}}}
	if !reflect.DeepEqual(got, wantSlots) {
		t.Errorf("boxed in slots: %#v, want %#v", got, wantSlots)
	}
	if s, ok := attr(got, "a").(string); !ok || s != "text" || attr(got, "a") != any("text") {
		t.Errorf("a boxed string is not a plain string value: %#v", attr(got, "a"))
	}
}
