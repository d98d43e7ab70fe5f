package normalize

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestJSONParserStrings(t *testing.T) {
	tests := []struct {
		in    string
		want  string
		clean bool
	}{
		{`""`, "", true},
		{`"plain text, longer than one word"`, "plain text, longer than one word", true},
		{`"C:\\Windows\\System32\\cmd.exe"`, `C:\Windows\System32\cmd.exe`, false},
		{`"q\"uote\/slash"`, `q"uote/slash`, false},
		{`"\b\f\n\r\t"`, "\b\f\n\r\t", false},
		{`"caf\u00e9 \ud83d\ude00"`, "café 😀", false},
		{`"bad \u12x and \q"`, `bad \u12x and \q`, false}, // unknown escapes kept
		{`"lone \ud83d end"`, `lone \ud83d end`, false},   // a lone surrogate kept as written
		{`"pair? \ud83d\u0041"`, "pair? \ufffd", false},   // not a low surrogate
		{`"short \u12"`, `short \u12`, false},             // too short
		{`"café"`, "café", false},                         // valid, but not ASCII: escaped on output
		{"\"tab\there\"", "tab\there", false},             // a raw control byte
		{`"ends with backslash \\"`, `ends with backslash \`, false},
	}
	var p jsonParser
	for _, tt := range tests {
		v, err := p.parse(tt.in)
		if err != nil {
			t.Errorf("parse(%s): %v", tt.in, err)
			continue
		}
		if v.Type() != jsonString || v.text() != tt.want || v.clean != tt.clean {
			t.Errorf("parse(%s) = %v %q clean=%v, want %q clean=%v", tt.in, v.Type(), v.text(), v.clean, tt.want, tt.clean)
		}
	}
}

func TestJSONParserErrors(t *testing.T) {
	bad := []string{``, ` `, `{`, `}`, `[1,`, `[1 2]`, `{"a" 1}`, `{"a":1,}`, `{a:1}`, `"open`, `"open\"`,
		`tru`, `nul`, `{"a":1} x`, `[]]`, `x`, strings.Repeat("[", 400) + strings.Repeat("]", 400)}
	var p jsonParser
	for _, in := range bad {
		if v, err := p.parse(in); err == nil {
			t.Errorf("parse(%q) = %v, want an error", in, v.Type())
		}
	}
	// Leniencies kept from the parser the mapping was written against.
	for in, want := range map[string]string{`NaN`: "NaN", `-Inf`: "-Inf", `1-2`: "1-2", ` 12 `: "12"} {
		v, err := p.parse(in)
		if err != nil || v.Type() != jsonNumber || v.text() != want {
			t.Errorf("parse(%q) = %v, %v; want the number %s", in, v, err, want)
		}
	}
}

// toAny converts a parsed value the way encoding/json decodes with
// UseNumber, for comparison.
func toAny(v *jsonValue) any {
	switch v.Type() {
	case jsonNull:
		return nil
	case jsonTrue:
		return true
	case jsonFalse:
		return false
	case jsonNumber:
		return json.Number(v.text())
	case jsonString:
		return v.text()
	case jsonArray:
		out := []any{}
		for _, it := range v.items() {
			out = append(out, toAny(it))
		}
		return out
	}
	out := map[string]any{}
	for _, m := range v.members() {
		out[m.key] = toAny(m.val)
	}
	return out
}

// checkAgainstStdlib compares the parser with encoding/json on valid
// UTF-8 JSON: same values, and every string marked clean really writes
// back unchanged.
func checkAgainstStdlib(t *testing.T, p *jsonParser, in string) {
	t.Helper()
	var want any
	dec := json.NewDecoder(strings.NewReader(in))
	dec.UseNumber()
	stdErr := dec.Decode(&want)
	v, err := p.parse(in)
	if stdErr != nil || !json.Valid([]byte(in)) || !utf8.ValidString(in) {
		return // the parser is more lenient; that input says nothing
	}
	if err != nil {
		t.Fatalf("parse(%.80q): %v, but encoding/json reads it", in, err)
	}
	if got := toAny(v); !reflect.DeepEqual(got, want) {
		t.Fatalf("parse(%.80q) = %v, want %v", in, got, want)
	}
	var walk func(*jsonValue)
	walk = func(v *jsonValue) {
		if v.Type() == jsonString && v.clean && string(appendString(nil, v.text())) != `"`+v.text()+`"` {
			t.Fatalf("%q marked clean but needs escaping", v.text())
		}
		for _, it := range v.items() {
			walk(it)
		}
		for _, m := range v.members() {
			walk(m.val)
		}
	}
	walk(v)
}

// The parser agrees with encoding/json on every golden record and on
// random documents with every kind of string content.
func TestJSONParserMatchesStdlib(t *testing.T) {
	var p jsonParser
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkAgainstStdlib(t, &p, string(b))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "Z", "0", " ", "é", "😀", `\"`, `\\`, `\/`, `\n`, `\t`, `\u00e9`, `\ud83d\ude00`, `\u0000`, "\x7f", "long-run-of-plain-text-"}
	var gen func(depth int) string
	gen = func(depth int) string {
		switch k := rng.IntN(8); {
		case k == 0 && depth < 6:
			var parts []string
			for range rng.IntN(5) {
				parts = append(parts, gen(depth+1))
			}
			return "[" + strings.Join(parts, ",") + "]"
		case k == 1 && depth < 6:
			var parts []string
			for range rng.IntN(5) {
				parts = append(parts, gen(9)+" : "+gen(depth+1))
			}
			return "{ " + strings.Join(parts, ", ") + "}"
		case k == 2:
			return strconv.FormatFloat(rng.NormFloat64()*1e6, 'g', -1, 64)
		case k == 3:
			return [...]string{"true", "false", "null"}[rng.IntN(3)]
		}
		var b strings.Builder
		b.WriteByte('"')
		for range rng.IntN(30) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		b.WriteByte('"')
		return b.String()
	}
	for range 20000 {
		checkAgainstStdlib(t, &p, gen(0))
	}
}

func FuzzJSONParser(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(string(b))
		}
	}
	f.Add(`{"a":"\ud83d\ude00","b":[1,-2.5e3,true,null]}`)
	var p jsonParser
	f.Fuzz(func(t *testing.T, in string) {
		checkAgainstStdlib(t, &p, in)
	})
}
