package envelope

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// item is what the reader produced: a record or an error, with its line.
type item struct {
	rec  string
	line int
	err  string // substring of the reason
	raw  string
}

func readAll(t *testing.T, input string) []item {
	t.Helper()
	rd := NewReader(strings.NewReader(input))
	var out []item
	for i := 0; i < 1000; i++ {
		rec, err := rd.Next()
		if err == io.EOF {
			return out
		}
		var e *Error
		if errors.As(err, &e) {
			out = append(out, item{line: e.Line, err: e.Reason, raw: string(e.Raw)})
			continue
		}
		if err != nil {
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
		out = append(out, item{rec: string(rec.Bytes), line: rec.Line})
	}
	t.Fatal("reader does not terminate")
	return nil
}

func TestReaderShapes(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []item
	}{
		{"record per line", "{\"a\":1}\n{\"b\":2}\n", []item{{rec: `{"a":1}`, line: 1}, {rec: `{"b":2}`, line: 2}}},
		{"envelope per line", `{"records":[{"a":1},{"b":2}]}` + "\n" + `{"records":[{"c":3}]}`,
			[]item{{rec: `{"a":1}`, line: 1}, {rec: `{"b":2}`, line: 1}, {rec: `{"c":3}`, line: 2}}},
		{"array", `[{"a":1}, {"b":[1,2,{"c":"]"}]}]`, []item{{rec: `{"a":1}`, line: 1}, {rec: `{"b":[1,2,{"c":"]"}]}`, line: 1}}},
		{"pretty envelope", "{\n  \"records\": [\n    {\n      \"a\": \"x\\\"}\"\n    },\n    {\"b\": 2}\n  ]\n}\n",
			[]item{{rec: "{\n      \"a\": \"x\\\"}\"\n    }", line: 3}, {rec: `{"b": 2}`, line: 6}}},
		{"envelope with other keys", `{"x":{"records":[1]},"records":[{"a":1}],"y":[2]}` + "\n{\"b\":1}",
			[]item{{rec: `{"a":1}`, line: 1}, {rec: `{"b":1}`, line: 2}}},
		{"records not an array is a record", `{"records":"none"}`, []item{{rec: `{"records":"none"}`, line: 1}}},
		{"mixed and blank lines", "\n\n{\"a\":1}\r\n[{\"b\":2}]\n\n{\"records\":[]}\n",
			[]item{{rec: `{"a":1}`, line: 3}, {rec: `{"b":2}`, line: 4}}},
		{"byte order mark", "\xEF\xBB\xBF{\"a\":1}", []item{{rec: `{"a":1}`, line: 1}}},
		{"scalar elements are passed on", `[1,"x",null]`, []item{{rec: `1`, line: 1}, {rec: `"x"`, line: 1}, {rec: `null`, line: 1}}},
		{"not json then good", "hello world\n{\"a\":1}\n",
			[]item{{line: 1, err: "not JSON", raw: "hello world"}, {rec: `{"a":1}`, line: 2}}},
		{"truncated line then good", "{\"a\":\"tru\n{\"b\":1}\n",
			[]item{{line: 1, err: "line break inside a string", raw: "{\"a\":\"tru"}, {rec: `{"b":1}`, line: 2}}},
		{"truncated envelope: the whole line, none of its records", `{"records":[{"a":1},{"b":`,
			[]item{{line: 1, err: "truncated", raw: `{"records":[{"a":1},{"b":`}}},
		{"mismatched brackets", "{\"a\":[1}\n{\"b\":1}",
			[]item{{line: 1, err: "unexpected '}'", raw: "{\"a\":[1}"}, {rec: `{"b":1}`, line: 2}}},
		// A value that spans lines and fails: its first line is dead-lettered
		// and reading goes on at the next line.
		{"issue example: line cut at depth 2", "{\"p\":{\"a\":\"x\"\n{\"a\":1}\n",
			[]item{{line: 1, err: "expected ','", raw: `{"p":{"a":"x"`}, {rec: `{"a":1}`, line: 2}}},
		{"issue example: record cut after a value at depth 2",
			`{"time":"2026-11-20T07:57:59Z","category":"AdvancedHunting-DeviceEvents","properties":{"DeviceName": "x"` + "\n{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n",
			[]item{{line: 1, err: "truncated line?", raw: `{"time":"2026-11-20T07:57:59Z","category":"AdvancedHunting-DeviceEvents","properties":{"DeviceName": "x"`},
				{rec: `{"a":1}`, line: 2}, {rec: `{"b":2}`, line: 3}, {rec: `{"c":3}`, line: 4}}},
		{"cut after a colon swallows one line, then gives it back", "{\"a\":\n{\"b\":1}\n{\"c\":2}\n",
			[]item{{line: 1, err: "expected ','", raw: `{"a":`}, {rec: `{"b":1}`, line: 2}, {rec: `{"c":2}`, line: 3}}},
		{"cut after a colon at the end of the input", "{\"b\":1}\n{\"a\":\n{\"b\":1}",
			[]item{{rec: `{"b":1}`, line: 1}, {line: 2, err: "truncated", raw: `{"a":`}, {rec: `{"b":1}`, line: 3}}},
		{"a junk word cannot complete a cut line", "{\"a\":\nhello}\n{\"b\":1}\n",
			[]item{{line: 1, err: "not a value", raw: `{"a":`}, {line: 2, err: "not JSON", raw: "hello}"}, {rec: `{"b":1}`, line: 3}}},
		{"cut line then junk then record", "{\"a\":{\"b\":\"x\"\nhello\n{\"c\":1}",
			[]item{{line: 1, err: "invalid JSON", raw: `{"a":{"b":"x"`}, {line: 2, err: "not JSON", raw: "hello"}, {rec: `{"c":1}`, line: 3}}},
		{"no byte of a bad line is dropped", "{\"a\" 1}\n{\"b\":1}\n",
			[]item{{line: 1, err: "expected ':'", raw: `{"a" 1}`}, {rec: `{"b":1}`, line: 2}}},
		{"two values without a comma", "{\"a\":1 \"b\":2}\n",
			[]item{{line: 1, err: "expected ','", raw: `{"a":1 "b":2}`}}},
		{"leading blanks and CRLF are kept and cut as lines", "  junk \r\n\t{\"a\":\r\n{\"b\":1}\r\n",
			[]item{{line: 1, err: "not JSON", raw: "  junk "}, {line: 2, err: "truncated", raw: "\t{\"a\":"}, {rec: `{"b":1}`, line: 3}}},
		{"invalid UTF-8", "\xff\xfe{\n{\"a\":1}", []item{{line: 1, err: "byte 0xff", raw: "\xff\xfe{"}, {rec: `{"a":1}`, line: 2}}},
		{"envelope cut between records, then an envelope", "{\"records\":[{\"a\":1},\n{\"records\":[{\"b\":2}]}\n",
			[]item{{line: 1, err: "expected ','", raw: `{"records":[{"a":1},`}, {rec: `{"b":2}`, line: 2}}},
		{"envelope cut after its array, then a record", "{\"records\":[{\"a\":1}]\n{\"b\":2}\n",
			[]item{{line: 1, err: "expected ','", raw: `{"records":[{"a":1}]`}, {rec: `{"b":2}`, line: 2}}},
		{"envelope cut after a record, then records", "{\"records\":[{\"a\":1}\n{\"b\":2}\n{\"c\":3}",
			[]item{{line: 1, err: "expected ','", raw: `{"records":[{"a":1}`}, {rec: `{"b":2}`, line: 2}, {rec: `{"c":3}`, line: 3}}},
		{"a lone '[' line", "[\n{\"a\":1}\n{\"b\":2}\n",
			[]item{{line: 1, err: "expected ','", raw: "["}, {rec: `{"a":1}`, line: 2}, {rec: `{"b":2}`, line: 3}}},
		{"array of records one per line", "[{\"a\":1},\n{\"b\":2},\n{\"c\":3}]\n",
			[]item{{rec: `{"a":1}`, line: 1}, {rec: `{"b":2}`, line: 2}, {rec: `{"c":3}`, line: 3}}},
		{"pretty array", "[\n  {\"a\":1},\n  {\"b\":2}\n]\n",
			[]item{{rec: `{"a":1}`, line: 2}, {rec: `{"b":2}`, line: 3}}},
		{"pretty record", "{\n  \"a\": 1,\n  \"b\": [true, null, -1.5e3]\n}\n{\"c\":1}",
			[]item{{rec: "{\n  \"a\": 1,\n  \"b\": [true, null, -1.5e3]\n}", line: 1}, {rec: `{"c":1}`, line: 5}}},
		{"pretty envelope with a cut record", "{\n  \"records\": [\n    {\"a\": 1},\n    {\"b\": tru\n    {\"c\": 3}\n  ]\n}\n{\"d\":4}\n",
			[]item{{rec: `{"a": 1}`, line: 3}, {line: 4, err: "not a value", raw: `    {"b": tru`}, {rec: `{"c": 3}`, line: 5}, {rec: `{"d":4}`, line: 8}}},
		{"pretty array cut off, then records", "[\n  {\"a\":1},\n  {\"b\":2},\n{\"c\":3}\n{\"d\":4}\n",
			[]item{{rec: `{"a":1}`, line: 2}, {rec: `{"b":2}`, line: 3}, {line: 1, err: "not closed"}, {rec: `{"c":3}`, line: 4}, {rec: `{"d":4}`, line: 5}}},
		{"broken pretty object: each of its lines", "{\n  \"a\": [1}\n  \"b\": 2\n}\n{\"c\":1}",
			[]item{{line: 1, err: "unexpected", raw: "{"}, {line: 2, err: "not JSON", raw: `  "a": [1}`},
				{line: 3, err: "not JSON", raw: `  "b": 2`}, {line: 4, err: "not JSON", raw: "}"}, {rec: `{"c":1}`, line: 5}}},
		{"too deep", strings.Repeat("[", 400) + "\n{\"a\":1}",
			[]item{{line: 1, err: "nesting", raw: strings.Repeat("[", 400)}, {rec: `{"a":1}`, line: 2}}},
		{"bad numbers", "[01]\n[1.]\n[-]\n[1e]\n[0.5e-7]",
			[]item{{line: 1, err: "not a value", raw: "[01]"}, {line: 2, err: "not a value", raw: "[1.]"}, {line: 3, err: "not a value", raw: "[-]"},
				{line: 4, err: "not a value", raw: "[1e]"}, {rec: "0.5e-7", line: 5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readAll(t, tt.input)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d items %+v, want %d %+v", len(got), got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.rec != w.rec || g.line != w.line || (w.err == "") != (g.err == "") ||
					!strings.Contains(g.err, w.err) || g.raw != w.raw {
					t.Errorf("item %d: got %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

// Every record-bearing byte of a damaged input ends up either in a record
// or in the raw bytes of an error: nothing is lost silently.
func TestReaderLosesNothing(t *testing.T) {
	input := "garbage line\n{\"a\":1}\n{\"records\":[{\"b\":2},{\"c\":\n{\"d\":4}\n"
	var all strings.Builder
	for _, it := range readAll(t, input) {
		all.WriteString(it.rec + it.raw + "|")
	}
	for _, s := range []string{"garbage line", `{"a":1}`, `{"b":2}`, `{"c":`, `{"d":4}`} {
		if !strings.Contains(all.String(), s) {
			t.Errorf("%q was lost; got %q", s, all.String())
		}
	}
}

func TestReaderLargeString(t *testing.T) {
	big := strings.Repeat("x", 10<<20)
	got := readAll(t, `{"records":[{"s":"`+big+`"},{"t":1}]}`)
	if len(got) != 2 || len(got[0].rec) != len(big)+8 || got[1].rec != `{"t":1}` {
		t.Fatalf("10 MB string: got %d items", len(got))
	}
}

func TestSplitBody(t *testing.T) {
	var recs []string
	err := SplitBody([]byte(`{"records":[{"a":1},{"b":2}]}`), func(r []byte) { recs = append(recs, string(r)) })
	if err != nil || strings.Join(recs, ",") != `{"a":1},{"b":2}` {
		t.Fatalf("got %v, %v", recs, err)
	}
	if err := SplitBody([]byte("  \r\n"), func([]byte) { t.Fatal("record in empty body") }); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty body: %v", err)
	}
	recs = nil
	err = SplitBody([]byte("{\"a\":1}\nxx\n{\"b\":2}\nyy"), func(r []byte) { recs = append(recs, string(r)) })
	var e *Error
	if !errors.As(err, &e) || string(e.Raw) != "xx\nyy" || len(recs) != 2 {
		t.Fatalf("damaged body: recs %v err %v", recs, err)
	}
	if len(e.Parts) != 2 || string(e.Parts[0].Raw) != "xx" || e.Parts[0].Line != 2 || string(e.Parts[1].Raw) != "yy" || e.Parts[1].Line != 4 {
		t.Fatalf("damaged body: parts %+v", e.Parts)
	}
}

// indexStringStop agrees with bytes.IndexAny wherever the stop byte sits.
func TestIndexStringStop(t *testing.T) {
	for n := 0; n < 24; n++ {
		for i := -1; i < n; i++ {
			for _, stop := range []byte{'"', '\\', '\n'} {
				b := bytes.Repeat([]byte{'a'}, n)
				if i >= 0 {
					b[i] = stop
				}
				if n > 3 {
					b[n-1] = 0x80 // bytes that only look special to a careless test
				}
				want := bytes.IndexAny(b, "\"\\\n")
				if got := indexStringStop(b); got != want {
					t.Fatalf("indexStringStop(%q) = %d, want %d", b, got, want)
				}
			}
		}
	}
}
