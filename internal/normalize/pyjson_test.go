package normalize

import (
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// Whenever the JSON path answers, the Python literal parser must give the
// same value: on fixed cases and on random documents.
func TestJSONLiteralMatchesPython(t *testing.T) {
	check := func(s string) (jsonOK bool) {
		t.Helper()
		got, ok := jsonLiteral(s)
		if !ok {
			return false
		}
		want, err := literalEval(s)
		if err != nil {
			t.Fatalf("jsonLiteral(%q) = %#v, but Python refuses it: %v", s, got, err)
		}
		// Compared as written out (numbers as Python writes them, so an
		// int and a float differ), and by type.
		if reflect.TypeOf(got) != reflect.TypeOf(want) || string(appendValue(nil, got)) != string(appendValue(nil, want)) {
			t.Fatalf("jsonLiteral(%q) = %#v, Python gives %#v", s, got, want)
		}
		return true
	}
	for s, wantJSON := range map[string]bool{
		`["Email", "Teams"]`:                      true,
		`{"a": [1, -2.5, 1e3, "x"], "a": "last"}`: true,
		`[]`:                                  true,
		`{}`:                                  true,
		`[0, -0, 0.5e-3, 123456789012345678]`: true,
		`[true]`:                              false, // not Python
		`[null]`:                              false,
		`["a\"b"]`:                            false, // escapes: left to Python
		`[01]`:                                false, // not JSON
		`[1234567890123456789]`:               false, // beyond 64 bits: left to Python
		`[NaN]`:                               false,
		`[1] # comment`:                       false,
		"[\"tab\there\"]":                     false,
	} {
		if got := check(s); got != wantJSON {
			t.Errorf("jsonLiteral(%q) answered %v, want %v", s, got, wantJSON)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var gen func(depth int) string
	gen = func(depth int) string {
		switch k := rng.IntN(7); {
		case k == 0 && depth < 5:
			var parts []string
			for range rng.IntN(5) {
				parts = append(parts, gen(depth+1))
			}
			return "[" + strings.Join(parts, ", ") + "]"
		case k == 1 && depth < 5:
			var parts []string
			for range rng.IntN(5) {
				parts = append(parts, `"k`+strconv.Itoa(rng.IntN(4))+`": `+gen(depth+1))
			}
			return "{" + strings.Join(parts, ",") + "}"
		case k == 2:
			return strconv.FormatInt(rng.Int64N(1<<62)-1<<61, 10)
		case k == 3:
			return strconv.FormatFloat(rng.NormFloat64()*math1e(rng.IntN(40)-20), 'g', -1, 64)
		case k == 4:
			return [...]string{"true", "false", "null", "1.", ".5", "-", "1e", "007"}[rng.IntN(8)]
		}
		return `"` + [...]string{"", "plain", "é ü", "with 'quote'", "C:/path", "#hash", "a,b"}[rng.IntN(7)] + `"`
	}
	answered := 0
	for range 20000 {
		if c := gen(0); c[0] == '[' || c[0] == '{' {
			if check(c) {
				answered++
			}
		}
	}
	if answered < 1000 {
		t.Fatalf("only %d random documents took the JSON path: the test checks too little", answered)
	}
}

func math1e(n int) float64 {
	f := 1.0
	for ; n > 0; n-- {
		f *= 10
	}
	for ; n < 0; n++ {
		f /= 10
	}
	return f
}
