package query

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// testCatalog mirrors the shape of the store's catalogue: typed columns and
// a JSON fallback whose path travels as an argument.
type testCatalog struct{}

var testColumns = map[string]Column{
	"@timestamp":       {Expr: "ts", Kind: Time},
	"host.name":        {Expr: "host_name", Kind: Keyword},
	"destination.port": {Expr: "destination_port", Kind: Int},
	"process.command_line": {
		Expr: "process_command_line", Kind: Text},
	"event.category": {Expr: "event_category", Kind: KeywordList},
	"message":        {Expr: "message", Kind: Text},
}

var testJSONFields = map[string]bool{"process.pid": true, "action.properties.LogonId": true}

func (testCatalog) Column(f string) (Column, bool) {
	if c, ok := testColumns[f]; ok {
		return c, true
	}
	if testJSONFields[f] {
		return Column{Expr: "json_extract_string(doc, ?)", Args: []any{"$." + f}, Kind: Keyword}, true
	}
	return Column{}, false
}
func (testCatalog) Raw() Column { return Column{Expr: "message", Kind: Text} }
func (testCatalog) Suggest(f string) []string {
	if strings.HasPrefix(f, "host") {
		return []string{"host.name"}
	}
	return nil
}

var fixedNow = time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)

func compiler() *Compiler {
	return &Compiler{Catalog: testCatalog{}, Now: func() time.Time { return fixedNow }}
}

func day(d int) time.Time { return time.Date(2024, 1, d, 0, 0, 0, 0, time.UTC) }

// bare is the SQL of a bare word or phrase with letters: the substring test,
// then the whole-word test (words.go).
const bare = `(regexp_matches(message, ?, 'i') AND regexp_matches(message, ?, 'i'))`

// edged is the whole-word pattern of a quoted literal that starts and ends
// with a word character.
func edged(quoted string) string {
	return `(?:^|[\x00-/:-@\[-\x60{-\x7F])` + quoted + `(?:[\x00-/:-@\[-\x60{-\x7F]|$)`
}

func TestCompile(t *testing.T) {
	tests := []struct {
		q     string
		where string
		args  []any
	}{
		{"", "TRUE", nil},
		{"   ", "TRUE", nil},
		{"host.name:ws1", `(host_name ILIKE ? ESCAPE '\')`, []any{"ws1"}},
		{"host.name:WS_1", `(host_name ILIKE ? ESCAPE '\')`, []any{`WS\_1`}},
		{"host.name:ws*", `regexp_matches(host_name, ?, 'i')`, []any{"(?s)^ws"}},
		{"host.name:w?1", `regexp_matches(host_name, ?, 'i')`, []any{"(?s)^w.1$"}},
		{`host.name:w\*1`, `(host_name ILIKE ? ESCAPE '\')`, []any{"w*1"}},
		{`host.name:"w*1"`, `(host_name ILIKE ? ESCAPE '\')`, []any{"w*1"}},
		{`process.command_line:"cmd /c whoami"`, `regexp_matches(process_command_line, ?, 'i')`, []any{"cmd /c whoami"}},
		{`process.command_line:*whoami`, `regexp_matches(process_command_line, ?, 'i')`, []any{"(?s)whoami$"}},
		{"mimikatz", bare, []any{"mimikatz", edged("mimikatz")}},
		{"mimi*katz", `regexp_matches(message, ?, 'i')`, []any{"(?s)mimi.*katz"}},
		{"*a*a*a*a*a*a*a*a*b", `regexp_matches(message, ?, 'i')`, []any{"(?s)a.*a.*a.*a.*a.*a.*a.*a.*b"}},
		{`host.name:*.ps1`, `regexp_matches(host_name, ?, 'i')`, []any{`(?s)\.ps1$`}},
		{`host.name:a**b\*c?`, `regexp_matches(host_name, ?, 'i')`, []any{`(?s)^a.*b\*c.$`}},
		{`host.name:100%*`, `regexp_matches(host_name, ?, 'i')`, []any{`(?s)^100%`}},
		{`process.pid:4*`, `regexp_matches(json_extract_string(doc, ?), ?, 'i')`, []any{"$.process.pid", "(?s)^4"}},
		{`"sekurlsa::logonpasswords"`, bare, []any{"sekurlsa::logonpasswords", edged("sekurlsa::logonpasswords")}},
		{"100%", `(contains(message, ?) AND regexp_matches(message, ?, 'i'))`, []any{`100%`, `(?:^|[\x00-/:-@\[-\x60{-\x7F])100%`}},
		{`"%100"`, `(contains(message, ?) AND regexp_matches(message, ?, 'i'))`, []any{`%100`, `%100(?:[\x00-/:-@\[-\x60{-\x7F]|$)`}},
		{"203.0.113.7", `(contains(message, ?) AND regexp_matches(message, ?, 'i'))`, []any{`203.0.113.7`, edged(`203\.0\.113\.7`)}},
		{`"::"`, `contains(message, ?)`, []any{`::`}},
		{`""`, `contains(message, ?)`, []any{``}},
		{`"a.b(c)"`, `(regexp_matches(message, ?, 'i') AND regexp_matches(message, ?, 'i'))`, []any{`a\.b\(c\)`, `(?:^|[\x00-/:-@\[-\x60{-\x7F])a\.b\(c\)`}},
		{"destination.port:443", `(destination_port = ?)`, []any{int64(443)}},
		{"destination.port:[1 TO 1024]", `(destination_port >= ? AND destination_port <= ?)`, []any{int64(1), int64(1024)}},
		{"destination.port:{1 TO 1024}", `(destination_port > ? AND destination_port < ?)`, []any{int64(1), int64(1024)}},
		{"destination.port:[1024 TO *]", `(destination_port >= ?)`, []any{int64(1024)}},
		{"destination.port >= 1024", `(destination_port >= ?)`, []any{int64(1024)}},
		{"destination.port:<10", `(destination_port < ?)`, []any{int64(10)}},
		{"@timestamp >= 2024-01-02", `(ts >= ?)`, []any{day(2)}},
		{"@timestamp <= 2024-01-02", `(ts < ?)`, []any{day(3)}},
		{"@timestamp > 2024-01-02", `(ts >= ?)`, []any{day(3)}},
		{"@timestamp < 2024-01-02", `(ts < ?)`, []any{day(2)}},
		{"@timestamp:2024-01-02", `(ts >= ? AND ts < ?)`, []any{day(2), day(3)}},
		{"@timestamp:[2024-01-02 TO 2024-01-03]", `(ts >= ? AND ts < ?)`, []any{day(2), day(4)}},
		{"@timestamp >= now-15m", `(ts >= ?)`, []any{fixedNow.Add(-15 * time.Minute)}},
		{"@timestamp >= 2024-01-02T10:00:00Z", `(ts >= ?)`, []any{time.Date(2024, 1, 2, 10, 0, 0, 0, time.UTC)}},
		{"process.pid:[100 TO 200]", `(TRY_CAST(json_extract_string(doc, ?) AS DOUBLE) >= ? AND TRY_CAST(json_extract_string(doc, ?) AS DOUBLE) <= ?)`, []any{"$.process.pid", 100.0, "$.process.pid", 200.0}},
		{"process.pid:42", `(json_extract_string(doc, ?) ILIKE ? ESCAPE '\')`, []any{"$.process.pid", "42"}},
		{"_exists_:host.name", `(host_name IS NOT NULL)`, nil},
		{"_exists_:process.pid", `(json_extract_string(doc, ?) IS NOT NULL)`, []any{"$.process.pid"}},
		{"event.category:process", `(len(list_filter(event_category, lambda x: lower(x) = lower(?))) > 0)`, []any{"process"}},
		{"event.category:proc*", `(len(list_filter(event_category, lambda x: regexp_matches(x, ?, 'i'))) > 0)`, []any{"(?s)^proc"}},
		{"NOT host.name:a", `(NOT coalesce((host_name ILIKE ? ESCAPE '\'), FALSE))`, []any{"a"}},
		{"-host.name:a", `(NOT coalesce((host_name ILIKE ? ESCAPE '\'), FALSE))`, []any{"a"}},
		{"a b", `(` + bare + ` AND ` + bare + `)`, []any{"a", edged("a"), "b", edged("b")}},
		{"a AND b", `(` + bare + ` AND ` + bare + `)`, []any{"a", edged("a"), "b", edged("b")}},
		{"a OR b c", `(` + bare + ` OR (` + bare + ` AND ` + bare + `))`, []any{"a", edged("a"), "b", edged("b"), "c", edged("c")}},
		{"(a OR b) c", `((` + bare + ` OR ` + bare + `) AND ` + bare + `)`, []any{"a", edged("a"), "b", edged("b"), "c", edged("c")}},
		{"ORACLE", bare, []any{"ORACLE", edged("ORACLE")}},
		{"or", bare, []any{"or", edged("or")}},
		{"a-b", bare, []any{"a-b", edged("a-b")}},
		{"message:mimikatz", `regexp_matches(message, ?, 'i')`, []any{"mimikatz"}},
		{"host.name:fe80::1", `(host_name ILIKE ? ESCAPE '\')`, []any{"fe80::1"}},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			got, err := compiler().Compile(tt.q)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tt.q, err)
			}
			if got.Where != tt.where {
				t.Errorf("where\n got %s\nwant %s", got.Where, tt.where)
			}
			if len(got.Args) != len(tt.args) {
				t.Fatalf("args got %#v want %#v", got.Args, tt.args)
			}
			for i := range got.Args {
				gt, gok := got.Args[i].(time.Time)
				wt, wok := tt.args[i].(time.Time)
				if gok && wok {
					if !gt.Equal(wt) {
						t.Errorf("arg %d got %v want %v", i, gt, wt)
					}
					continue
				}
				if got.Args[i] != tt.args[i] {
					t.Errorf("arg %d got %#v want %#v", i, got.Args[i], tt.args[i])
				}
			}
			if n := strings.Count(got.Where, "?"); n != len(got.Args) {
				t.Errorf("%d placeholders for %d args", n, len(got.Args))
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		q       string
		pos     int
		contain string
	}{
		{"(a OR b", 0, "unclosed '('"},
		{"a)", 1, "unexpected ')'"},
		{`"abc`, 0, "unclosed quote"},
		{"a OR", 4, "OR needs a term"},
		{"AND a", 0, "AND needs a term before"},
		{"a AND", 5, "AND needs a term after"},
		{"NOT", 3, "NOT needs a term"},
		{"host.name:", 10, "expected a value"},
		{"destination.port:[1 1024]", 20, "expected TO"},
		{"destination.port:[1 TO 1024", 17, "unclosed range"},
		{"_exists_:", 9, "expected a value"},
		{"_exists_:'x'", 9, "expected a field name"},
		{"hots.name:x", 0, `unknown field "hots.name"`},
		{"destination.port:abc", 17, "not a number"},
		{"hots.name:abc", 0, "unknown field"},
		{"@timestamp:yesterday", 11, "not a time"},
		{`message:(x OR "y) z`, 14, "unclosed quote"},
		{"destination.port:4*", 17, "wildcards do not apply"},
		{"@timestamp >= yesterday", 0, "not a time"},
		{"event.category:[a TO b]", 0, "ranges do not apply"},
		{"a ] b", 2, "unexpected"},
		{strings.Repeat("(", 200) + "a" + strings.Repeat(")", 200), 64, "nested too deeply"},
		{`foo\`, 3, "dangling backslash"},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			_, err := compiler().Compile(tt.q)
			if err == nil {
				t.Fatalf("Compile(%q) succeeded, want error", tt.q)
			}
			if !strings.Contains(err.Error(), tt.contain) {
				t.Errorf("error %q does not contain %q", err, tt.contain)
			}
			// The message names the position the API reports.
			if at := fmt.Sprintf(" at position %d: ", tt.pos); !strings.Contains(err.Error(), at) {
				t.Errorf("error %q does not say %q", err, at)
			}
			var se *SyntaxError
			var fe *FieldError
			switch {
			case errors.As(err, &se):
				if se.Pos != tt.pos {
					t.Errorf("pos = %d, want %d (%v)", se.Pos, tt.pos, err)
				}
			case errors.As(err, &fe):
				if fe.Pos != tt.pos {
					t.Errorf("pos = %d, want %d (%v)", fe.Pos, tt.pos, err)
				}
			default:
				t.Errorf("error %T is neither SyntaxError nor FieldError", err)
			}
		})
	}
}

func TestUnknownFieldHint(t *testing.T) {
	_, err := compiler().Compile("hostname:x")
	if err == nil || !strings.Contains(err.Error(), "did you mean host.name?") {
		t.Fatalf("got %v, want a did-you-mean hint", err)
	}
}

// The SQL text may only consist of what the compiler and the catalogue
// write; everything the user typed must be in the arguments.
var sqlShape = regexp.MustCompile(`^[() A-Za-z_?=<>!'\\,:.0-9]*$`)

var injections = []string{
	`'; DROP TABLE events; --`,
	`" OR 1=1 --`,
	`') OR TRUE; --`,
	`\'; SELECT 1; --`,
	`x%' OR '1'='1`,
	"1; DELETE FROM events",
	`$1`,
	`?`,
	`/* comment */`,
}

func TestInjectionIsInert(t *testing.T) {
	for _, payload := range injections {
		quoted := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(payload) + `"`
		escaped := strings.NewReplacer(`\`, `\\`, " ", `\ `, "(", `\(`, ")", `\)`, `"`, `\"`, ":", `\:`).Replace(payload)
		queries := []string{
			quoted,                                      // bare phrase
			"host.name:" + quoted,                       // field phrase
			"host.name:" + escaped,                      // field word
			"host.name:*" + escaped + "*",               // wildcard
			"process.command_line:" + quoted,            // text field
			"destination.port:[" + quoted + " TO 10]",   // range bounds
			"process.pid:[1 TO " + quoted + "]",         // JSON range
			"@timestamp >= " + quoted,                   // comparison
			"event.category:" + quoted,                  // list
			escaped,                                     // bare word
			payload + ":x",                              // field name position
			"_exists_:" + payload,                       // exists
			"host.name:x AND (" + quoted + " OR NOT y)", // nested
		}
		for _, q := range queries {
			sql, err := compiler().Compile(q)
			if err != nil {
				continue // refused outright: inert
			}
			if !sqlShape.MatchString(sql.Where) {
				t.Errorf("Compile(%q) produced SQL with foreign text: %s", q, sql.Where)
			}
			for _, frag := range []string{"DROP", "DELETE", "SELECT", "--", "/*", ";", "1=1", "$1"} {
				if strings.Contains(sql.Where, frag) {
					t.Errorf("Compile(%q): SQL contains %q: %s", q, frag, sql.Where)
				}
			}
			if n := strings.Count(sql.Where, "?"); n != len(sql.Args) {
				t.Errorf("Compile(%q): %d placeholders for %d args", q, n, len(sql.Args))
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"host.name:ws1", `a OR (b -c) "d e"`, "destination.port:[1 TO 1024]", "@timestamp >= now-15m", "_exists_:user.name", `x\*:y*?`} {
		f.Add(s)
	}
	for _, s := range injections {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		n, err := Parse(q)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T is not a SyntaxError", q, err)
			}
			if se.Pos < 0 || se.Pos > len(q) {
				t.Fatalf("Parse(%q) error position %d outside the query", q, se.Pos)
			}
			return
		}
		sql, err := compiler().CompileNode(n)
		if err != nil {
			return
		}
		if !sqlShape.MatchString(sql.Where) {
			t.Fatalf("Compile(%q) produced SQL with foreign text: %s", q, sql.Where)
		}
		if c := strings.Count(sql.Where, "?"); c != len(sql.Args) {
			t.Fatalf("Compile(%q): %d placeholders for %d args", q, c, len(sql.Args))
		}
	})
}
