package query

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// A group of values on a field is the same query as the field repeated on
// each value: its SQL and arguments are those of the spelled-out form.
func TestGroupedValuesEqualTheSpelledOutQuery(t *testing.T) {
	tests := []struct{ grouped, spelled string }{
		{"host.name:(ws1 OR ws2)", "(host.name:ws1 OR host.name:ws2)"},
		{"host.name:(ws1 ws2)", "(host.name:ws1 host.name:ws2)"},
		{"host.name:(ws1 AND ws2)", "(host.name:ws1 AND host.name:ws2)"},
		{"host.name:(NOT ws1)", "(NOT host.name:ws1)"},
		{"host.name:(-ws1)", "(-host.name:ws1)"},
		{"host.name:(ws1 OR NOT ws2)", "(host.name:ws1 OR NOT host.name:ws2)"},
		{"host.name:(ws1 OR (ws2 AND -ws3))", "(host.name:ws1 OR (host.name:ws2 AND -host.name:ws3))"},
		{"host.name:((( ws1 )))", "host.name:ws1"},
		{"host.name:(ws* OR w?2)", "(host.name:ws* OR host.name:w?2)"},
		{`host.name:("w*1" OR ws2)`, `(host.name:"w*1" OR host.name:ws2)`},
		{`process.command_line:("cmd /c whoami" OR *mimikatz*)`, `(process.command_line:"cmd /c whoami" OR process.command_line:*mimikatz*)`},
		{"destination.port:(80 OR 443 OR [8000 TO 8100})", "(destination.port:80 OR destination.port:443 OR destination.port:[8000 TO 8100})"},
		{"event.category:(process OR file)", "(event.category:process OR event.category:file)"},
		{"@timestamp:(2024-01-02 OR 2024-01-05T10:00:00Z)", "(@timestamp:2024-01-02 OR @timestamp:2024-01-05T10:00:00Z)"},
		{"process.pid:(1 OR 2)", "(process.pid:1 OR process.pid:2)"},
		{`host.name:(w\(1\) OR ws2)`, `(host.name:w\(1\) OR host.name:ws2)`},
		{"host.name:(ws1 OR ws2) mimikatz", "(host.name:ws1 OR host.name:ws2) mimikatz"},
		{"NOT host.name:(ws1 OR ws2) OR message:x", "NOT (host.name:ws1 OR host.name:ws2) OR message:x"},
		{"(host.name:(ws1 OR ws2))", "(host.name:ws1 OR host.name:ws2)"},
	}
	for _, tt := range tests {
		t.Run(tt.grouped, func(t *testing.T) {
			got, err := compiler().Compile(tt.grouped)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tt.grouped, err)
			}
			want, err := compiler().Compile(tt.spelled)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tt.spelled, err)
			}
			if got.Where != want.Where || !reflect.DeepEqual(got.Args, want.Args) {
				t.Errorf("got  %s %v\nwant %s %v", got.Where, got.Args, want.Where, want.Args)
			}
			// No bare word comes out of a group: the word index must not
			// be asked to answer a field's values.
			if !reflect.DeepEqual(got.Words, want.Words) || (got.WordsOnly == nil) != (want.WordsOnly == nil) || (got.Split == nil) != (want.Split == nil) {
				t.Errorf("word index use differs: Words %v/%v WordsOnly %v/%v Split %v/%v",
					got.Words, want.Words, got.WordsOnly != nil, want.WordsOnly != nil, got.Split != nil, want.Split != nil)
			}
		})
	}
}

func TestGroupedValuesAreNotBareWords(t *testing.T) {
	sql, err := compiler().Compile("message:(certutil OR bitsadmin)")
	if err != nil {
		t.Fatal(err)
	}
	if sql.WordsOnly != nil || sql.Split != nil || sql.Words != nil {
		t.Errorf("a grouped field query is treated as bare words: WordsOnly=%v Split=%v Words=%v", sql.WordsOnly, sql.Split, sql.Words)
	}
}

func TestGroupedValueErrors(t *testing.T) {
	tests := []struct {
		q       string
		pos     int
		contain string
	}{
		{"host.name:(ws1 OR ws2", 10, "unclosed '('"},
		{"host.name:()", 11, "expected a search term"},
		{"host.name:(ws1 OR )", 18, "OR needs a term"},
		{"host.name:(user.name:(x))", 21, "a field inside the grouped values"},
		{"host.name:(ws1 > 2)", 15, "unexpected '>'"},
		{"hots.name:(ws1 OR ws2)", 0, `unknown field "hots.name"`},
		{"destination.port:(80 OR http)", 24, "not a number"},
		{"destination.port:(80 OR 4*)", 24, "wildcards do not apply"},
		{"host.name:" + strings.Repeat("(", 100) + "a" + strings.Repeat(")", 100), 73, "nested too deeply"},
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
			}
		})
	}
}
