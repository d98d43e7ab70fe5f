package sigma

import (
	"fmt"
	"strings"
	"testing"
)

// testMapper maps every field to itself and the logsource category to a
// table of the same name; field names starting with "unmapped" have no
// equivalent.
type testMapper struct{}

func (testMapper) Scope(ls Logsource) (Scope, error) {
	if ls.Category == "unknown" {
		return Scope{}, fmt.Errorf("no table for %s", ls.Category)
	}
	if ls.Category == "" {
		return Scope{}, nil
	}
	return Scope{Tables: []string{ls.Category}}, nil
}

func (testMapper) Field(_ Logsource, name string) (string, bool) {
	return name, !strings.HasPrefix(name, "unmapped")
}

// mapEvent is an event given as field -> value (string, int, bool, nil or
// []string).
type mapEvent struct {
	table  string
	fields map[string]any
}

func (e mapEvent) Table() string { return e.table }

func (e mapEvent) Get(key string) ([]Value, bool) {
	if key == KeywordKey {
		var parts []string
		for _, v := range e.fields {
			parts = append(parts, fmt.Sprint(v))
		}
		return []Value{{S: strings.Join(parts, " ")}}, true
	}
	v, ok := e.fields[key]
	if !ok {
		return nil, false
	}
	switch x := v.(type) {
	case nil:
		return []Value{{Kind: KindNull}}, true
	case string:
		return []Value{{S: x}}, true
	case int:
		return []Value{{S: fmt.Sprint(x), Kind: KindNumber}}, true
	case bool:
		return []Value{{S: fmt.Sprint(x), Kind: KindBool}}, true
	case []string:
		out := make([]Value, len(x))
		for i, s := range x {
			out[i] = Value{S: s}
		}
		return out, true
	}
	panic(fmt.Sprintf("mapEvent: unsupported %T", v))
}

// rule builds a rule file in table "proc" from its detection section.
func rule(detection string) string {
	return "title: t\nid: r1\nlogsource:\n  category: proc\ndetection:\n" + indent(detection) + "level: high\n"
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

func compileOne(t *testing.T, src string, opts Options) *Engine {
	t.Helper()
	if opts.Mapper == nil {
		opts.Mapper = testMapper{}
	}
	e, err := Compile([]Source{{Path: "test.yml", Data: []byte(src)}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestMatching(t *testing.T) {
	cmd := func(s string) map[string]any {
		return map[string]any{"Image": `C:\Windows\System32\cmd.exe`, "CommandLine": s}
	}
	cases := []struct {
		name      string
		detection string
		fields    map[string]any
		want      bool
	}{
		{"equal is case-insensitive", "sel:\n  Image: 'c:\\windows\\system32\\CMD.EXE'\ncondition: sel", cmd("x"), true},
		{"equal is whole value", "sel:\n  Image: 'cmd.exe'\ncondition: sel", cmd("x"), false},
		{"endswith", "sel:\n  Image|endswith: '\\cmd.exe'\ncondition: sel", cmd("x"), true},
		{"startswith", "sel:\n  Image|startswith: 'C:\\Windows\\'\ncondition: sel", cmd("x"), true},
		{"contains list is OR", "sel:\n  CommandLine|contains:\n    - nope\n    - WHOAMI\ncondition: sel", cmd("cmd /c whoami"), true},
		{"contains all", "sel:\n  CommandLine|contains|all:\n    - whoami\n    - /all\ncondition: sel", cmd("whoami /all"), true},
		{"contains all missing one", "sel:\n  CommandLine|contains|all:\n    - whoami\n    - /priv\ncondition: sel", cmd("whoami /all"), false},
		{"map is AND", "sel:\n  Image|endswith: '\\cmd.exe'\n  CommandLine|contains: calc\ncondition: sel", cmd("whoami"), false},
		{"list of maps is OR", "sel:\n  - Image|endswith: '\\nope.exe'\n  - CommandLine|contains: whoami\ncondition: sel", cmd("whoami"), true},
		{"wildcard star", "sel:\n  CommandLine: 'who*all'\ncondition: sel", cmd("whoami /all"), true},
		{"wildcard question", "sel:\n  CommandLine: 'whoam? /all'\ncondition: sel", cmd("whoami /all"), true},
		{"wildcard question needs one char", "sel:\n  CommandLine: 'whoami?/all'\ncondition: sel", cmd("whoami/all"), false},
		{"escaped star is literal", "sel:\n  CommandLine|contains: 'a\\*b'\ncondition: sel", cmd("x a*b y"), true},
		{"escaped star does not glob", "sel:\n  CommandLine|contains: 'a\\*b'\ncondition: sel", cmd("x aXb y"), false},
		{"escaped question is literal", "sel:\n  CommandLine: 'what\\?'\ncondition: sel", cmd("what?"), true},
		{"double backslash is one", "sel:\n  CommandLine: '\\\\\\\\srv\\share'\ncondition: sel", cmd(`\\srv\share`), true},
		{"plain backslash stays", "sel:\n  CommandLine|endswith: '\\share'\ncondition: sel", cmd(`\\srv\share`), true},
		{"cased", "sel:\n  CommandLine|cased: 'WhoAmI'\ncondition: sel", cmd("whoami"), false},
		{"cased same case", "sel:\n  CommandLine|cased|contains: 'WhoAmI'\ncondition: sel", cmd("x WhoAmI"), true},
		{"re is case-sensitive", "sel:\n  CommandLine|re: 'WHO.*'\ncondition: sel", cmd("whoami"), false},
		{"re i", "sel:\n  CommandLine|re|i: '^WHO.*ALL$'\ncondition: sel", cmd("whoami /all"), true},
		{"re s", "sel:\n  CommandLine|re|s: 'a.b'\ncondition: sel", cmd("a\nb"), true},
		{"re without s", "sel:\n  CommandLine|re: 'a.b'\ncondition: sel", cmd("a\nb"), false},
		{"re m", "sel:\n  CommandLine|re|m: '^b$'\ncondition: sel", cmd("a\nb"), true},
		{"windash slash", "sel:\n  CommandLine|windash|contains: ' -enc '\ncondition: sel", cmd("powershell /enc abc"), true},
		{"windash en dash", "sel:\n  CommandLine|windash|contains: ' -enc '\ncondition: sel", cmd("powershell \u2013enc abc"), true},
		{"windash leaves inner dash", "sel:\n  CommandLine|windash|contains: 'a-b'\ncondition: sel", cmd("a/b"), false},
		{"base64", "sel:\n  CommandLine|base64|contains: 'whoami'\ncondition: sel", cmd("x d2hvYW1p y"), true},
		{"base64 is case-sensitive", "sel:\n  CommandLine|base64|contains: 'whoami'\ncondition: sel", cmd("x D2HVYW1P y"), false},
		{"base64offset 0", "sel:\n  CommandLine|base64offset|contains: 'http://'\ncondition: sel", cmd("aHR0cDovL2V4YW1wbGU="), true},
		{"base64offset 1", "sel:\n  CommandLine|base64offset|contains: 'http://'\ncondition: sel", cmd("eGh0dHA6Ly9leGFtcGxl"), true},
		{"base64offset 2", "sel:\n  CommandLine|base64offset|contains: 'http://'\ncondition: sel", cmd("eHhodHRwOi8vZXhhbXBsZQ=="), true},
		{"utf16le base64", "sel:\n  CommandLine|utf16le|base64offset|contains: 'iex'\ncondition: sel", cmd("-enc aQBlAHgA"), true},
		{"wide base64", "sel:\n  CommandLine|wide|base64|contains: 'iex'\ncondition: sel", cmd("-enc aQBlAHgA"), true},
		{"utf16be base64", "sel:\n  CommandLine|utf16be|base64|contains: 'iex'\ncondition: sel", cmd("AGkAZQB4"), true},
		{"utf16 with BOM base64", "sel:\n  CommandLine|utf16|base64|contains: 'iex'\ncondition: sel", cmd("//5pAGUAeAA="), true},
		{"cidr", "sel:\n  Ip|cidr: 10.0.0.0/8\ncondition: sel", map[string]any{"Ip": "10.2.3.4"}, true},
		{"cidr outside", "sel:\n  Ip|cidr: 10.0.0.0/8\ncondition: sel", map[string]any{"Ip": "11.2.3.4"}, false},
		{"cidr v6", "sel:\n  Ip|cidr: 'fe80::/10'\ncondition: sel", map[string]any{"Ip": "fe80::1"}, true},
		{"gt", "sel:\n  Port|gt: 1024\ncondition: sel", map[string]any{"Port": 4444}, true},
		{"gte equal", "sel:\n  Port|gte: 4444\ncondition: sel", map[string]any{"Port": 4444}, true},
		{"lt", "sel:\n  Port|lt: 1024\ncondition: sel", map[string]any{"Port": 4444}, false},
		{"lte string number", "sel:\n  Port|lte: 80\ncondition: sel", map[string]any{"Port": "80"}, true},
		{"number equals", "sel:\n  Port:\n    - 80\n    - 443\ncondition: sel", map[string]any{"Port": 443}, true},
		{"bool as string", "sel:\n  Initiated: 'true'\ncondition: sel", map[string]any{"Initiated": true}, true},
		{"neq", "sel:\n  Port|neq: 80\ncondition: sel", map[string]any{"Port": 443}, true},
		{"neq equal", "sel:\n  Port|neq: 80\ncondition: sel", map[string]any{"Port": 80}, false},
		{"neq absent", "sel:\n  Port|neq: 80\ncondition: sel", map[string]any{}, false},
		{"exists true", "sel:\n  User|exists: true\ncondition: sel", map[string]any{"User": "a"}, true},
		{"exists false", "sel:\n  User|exists: false\ncondition: sel", map[string]any{}, true},
		{"exists null", "sel:\n  User|exists: true\ncondition: sel", map[string]any{"User": nil}, false},
		{"null absent", "sel:\n  User: null\ncondition: sel", map[string]any{}, true},
		{"null json null", "sel:\n  User: null\ncondition: sel", map[string]any{"User": nil}, true},
		{"null present", "sel:\n  User: null\ncondition: sel", map[string]any{"User": ""}, false},
		{"empty string", "sel:\n  User: ''\ncondition: sel", map[string]any{"User": ""}, true},
		{"empty string absent", "sel:\n  User: ''\ncondition: sel", map[string]any{}, false},
		{"fieldref", "sel:\n  User|fieldref: ParentUser\ncondition: sel", map[string]any{"User": "A\\b", "ParentUser": "a\\B"}, true},
		{"fieldref differs", "sel:\n  User|fieldref: ParentUser\ncondition: sel", map[string]any{"User": "a", "ParentUser": "b"}, false},
		{"fieldref endswith", "sel:\n  Path|fieldref|endswith: Name\ncondition: sel", map[string]any{"Path": `c:\x\a.exe`, "Name": "A.EXE"}, true},
		{"contains then fieldref", "sel:\n  Path|contains|fieldref: Name\ncondition: sel", map[string]any{"Path": `c:\x\a.exe y`, "Name": "A.EXE"}, true},
		{"expand", "sel:\n  User|expand: '%admins%'\ncondition: sel", map[string]any{"User": "root"}, true},
		{"array field any", "sel:\n  Tags: b\ncondition: sel", map[string]any{"Tags": []string{"a", "b"}}, true},
		{"keywords", "kw:\n  - mimikatz\n  - 'sekurlsa::*'\ncondition: kw", map[string]any{"x": "run sekurlsa::logonpasswords"}, true},
		{"keywords miss", "kw:\n  - mimikatz\ncondition: kw", map[string]any{"x": "calc"}, false},
		{"not", "sel:\n  Image|endswith: '\\cmd.exe'\nf:\n  CommandLine|contains: whoami\ncondition: sel and not f", cmd("whoami"), false},
		{"or and precedence", "a:\n  CommandLine: x\nb:\n  CommandLine: whoami\nc:\n  Image: nope\ncondition: a or b and not c", cmd("whoami"), true},
		{"parentheses", "a:\n  CommandLine: x\nb:\n  CommandLine: whoami\nc:\n  Image: nope\ncondition: (a or b) and c", cmd("whoami"), false},
		{"1 of pattern", "sel_a:\n  CommandLine: x\nsel_b:\n  CommandLine: whoami\ncondition: 1 of sel_*", cmd("whoami"), true},
		{"all of pattern", "sel_a:\n  CommandLine|contains: who\nsel_b:\n  CommandLine: whoami\ncondition: all of sel_*", cmd("whoami"), true},
		{"all of pattern fails", "sel_a:\n  CommandLine|contains: x\nsel_b:\n  CommandLine: whoami\ncondition: all of sel_*", cmd("whoami"), false},
		{"1 of them ignores underscore", "a:\n  CommandLine: x\n_b:\n  CommandLine: whoami\ncondition: 1 of them", cmd("whoami"), false},
		{"all of them", "a:\n  CommandLine|contains: who\nb:\n  Image|endswith: cmd.exe\ncondition: all of them", cmd("whoami"), true},
		{"2 of", "a:\n  CommandLine|contains: who\nb:\n  Image|endswith: cmd.exe\nc:\n  Image: x\ncondition: 2 of them", cmd("whoami"), true},
		{"not 1 of", "sel:\n  Image|endswith: cmd.exe\nf_a:\n  CommandLine: x\nf_b:\n  CommandLine: y\ncondition: sel and not 1 of f_*", cmd("whoami"), true},
		{"condition list", "a:\n  CommandLine: x\nb:\n  CommandLine: whoami\ncondition:\n  - a\n  - b", cmd("whoami"), true},
	}
	opts := Options{Placeholders: map[string][]string{"admins": {"root", "admin*"}}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := compileOne(t, rule(c.detection), opts)
			if len(e.Rules()) != 1 {
				t.Fatalf("rule skipped: %+v", e.Skipped())
			}
			ev := mapEvent{table: "proc", fields: c.fields}
			x := e.NewEvaluator()
			if got := x.MatchRule(e.Rules()[0], ev); got != c.want {
				t.Fatalf("MatchRule = %v, want %v", got, c.want)
			}
			if got := len(x.Match(ev, nil)) == 1; got != c.want {
				t.Fatalf("Match (prefiltered) = %v, want %v", got, c.want)
			}
			if got := len(x.MatchNaive(ev, nil)) == 1; got != c.want {
				t.Fatalf("MatchNaive = %v, want %v", got, c.want)
			}
		})
	}
}

func TestSkipped(t *testing.T) {
	cases := []struct {
		name, src, reason string
	}{
		{"unknown modifier", rule("sel:\n  a|frobnicate: x\ncondition: sel"), "unsupported modifier"},
		{"unmapped field", rule("sel:\n  unmappedField: x\ncondition: sel"), "field not mapped"},
		{"unsupported regex", rule("sel:\n  a|re: '(?<=x)y'\ncondition: sel"), "unsupported regular expression"},
		{"unknown identifier", rule("sel:\n  a: x\ncondition: sel and other"), "invalid condition"},
		{"aggregation", rule("sel:\n  a: x\ncondition: sel | count() > 5"), "aggregation not supported"},
		{"undefined placeholder", rule("sel:\n  a|expand: '%nope%'\ncondition: sel"), "placeholder not defined"},
		{"timeframe", rule("sel:\n  a: x\ntimeframe: 5m\ncondition: sel"), "timeframe not supported"},
		{"logsource", strings.Replace(rule("sel:\n  a: x\ncondition: sel"), "category: proc", "category: unknown", 1), "logsource not supported"},
		{"correlation", "title: c\nid: c1\ncorrelation:\n  type: event_count\n  rules: [r1]\n  group-by: [User]\n  timespan: 5m\n  condition:\n    gte: 10\n", "correlation refers to a rule that did not load"},
		{"collection", "action: global\ntitle: t\nlogsource:\n  category: proc\n---\ndetection:\n  sel:\n    a: x\n  condition: sel\n", "rule collections not supported"},
		{"wildcard with base64", rule("sel:\n  a|base64|contains: 'x*y'\ncondition: sel"), "unsupported value"},
		{"invalid yaml", "title: [", "invalid YAML"},
		{"fieldref with encoding", rule("sel:\n  a|fieldref|base64: b\ncondition: sel"), "unsupported modifier combination"},
		{"two positions", rule("sel:\n  a|contains|endswith: b\ncondition: sel"), "unsupported modifier combination"},
		{"no condition", rule("sel:\n  a: x"), "invalid rule"},
		{"nested map value", rule("sel:\n  a:\n    b: c\ncondition: sel"), "unsupported value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := compileOne(t, c.src, Options{})
			if len(e.Rules()) != 0 || len(e.Skipped()) != 1 {
				t.Fatalf("loaded %d, skipped %+v", len(e.Rules()), e.Skipped())
			}
			if got := e.Skipped()[0].Reason; got != c.reason {
				t.Fatalf("reason %q (%s), want %q", got, e.Skipped()[0].Detail, c.reason)
			}
		})
	}
}

// TestIndexByTable checks that an event only meets the rules of its table
// and rules for every table, and that unknown tables meet only the latter.
func TestIndexByTable(t *testing.T) {
	src := func(id, cat string) Source {
		r := "title: " + id + "\nid: " + id + "\nlogsource:\n  category: " + cat + "\ndetection:\n  sel:\n    a|contains: x\n  condition: sel\n"
		if cat == "" {
			r = strings.Replace(r, "  category: \n", "  product: any\n", 1)
		}
		return Source{Path: id, Data: []byte(r)}
	}
	e, err := Compile([]Source{src("p", "proc"), src("f", "file"), src("all", "")}, Options{Mapper: testMapper{}})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Rules()) != 3 {
		t.Fatalf("skipped %+v", e.Skipped())
	}
	x := e.NewEvaluator()
	for _, c := range []struct {
		table string
		want  string
	}{{"proc", "p,all"}, {"file", "f,all"}, {"other", "all"}} {
		var ids []string
		for _, r := range x.Match(mapEvent{table: c.table, fields: map[string]any{"a": "xx"}}, nil) {
			ids = append(ids, r.ID)
		}
		if got := strings.Join(ids, ","); got != c.want {
			t.Errorf("table %s: matched %q, want %q", c.table, got, c.want)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		pat, s string
		want   bool
	}{
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"*a", "bba", true},
		{"a?c", "a\u00e9c", true},
		{"a**c", "ac", true},
		{"*ab*ab", "xabyab", true},
		{"*ab*ab", "xabyabz", false},
	}
	for _, c := range cases {
		if got := globMatch(parsePattern(c.pat).parts, c.s); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.pat, c.s, got, c.want)
		}
	}
}

func TestAhoCorasick(t *testing.T) {
	pats := []string{"he", "she", "his", "hers", "e"}
	m := newACMatcher(pats)
	found := map[string]int{}
	m.scan("ushers", func(id int32) { found[pats[id]]++ })
	want := map[string]int{"he": 1, "she": 1, "hers": 1, "e": 1}
	if fmt.Sprint(found) != fmt.Sprint(want) {
		t.Fatalf("found %v, want %v", found, want)
	}
}

// TestPrefilterNeedsEveryClause: a rule needing two literals in two
// fields is only evaluated when both occur.
func TestPrefilterNeedsEveryClause(t *testing.T) {
	e := compileOne(t, rule("sel:\n  Image|endswith: '\\whoami.exe'\n  CommandLine|contains: '/priv'\ncondition: sel"), Options{})
	x := e.NewEvaluator()
	cases := []struct {
		fields        map[string]any
		evaluated     uint64
		wantCandidate bool
	}{
		{map[string]any{"Image": `c:\whoami.exe`, "CommandLine": "whoami /all"}, 0, false},
		{map[string]any{"Image": `c:\cmd.exe`, "CommandLine": "x /priv"}, 0, false},
		{map[string]any{"Image": `c:\whoami.exe`, "CommandLine": "whoami /priv"}, 1, true},
	}
	for i, c := range cases {
		before := x.Evaluated()
		got := x.Match(mapEvent{table: "proc", fields: c.fields}, nil)
		if x.Evaluated()-before != c.evaluated || (len(got) == 1) != c.wantCandidate {
			t.Errorf("case %d: evaluated %d, matched %d", i, x.Evaluated()-before, len(got))
		}
	}
}
