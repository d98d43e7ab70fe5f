package sigma

import (
	"regexp"
	"strings"
	"testing"
)

func TestRegexpLiterals(t *testing.T) {
	cases := []struct {
		expr string
		want string // literals joined by |, "" for none
	}{
		{`powershell.*-enc`, "powershell"},
		{`(?i)invoke-(expression|command)`, "invoke-"},
		{`(foo|barbaz)\d+`, "foo|barbaz"},
		{`a.*b`, ""},                // too short
		{`(abc)?def`, "def"},        // optional part ignored
		{`(abcd|x)`, ""},            // one alternative too short
		{`\$\{[a-z]+\}`, ""},        // no literal of 3
		{`(?:cmdx){2}\.ex`, "cmdx"}, // repeat at least once
		{`[A-Z]+FROMBASE64`, "frombase64"},
	}
	for _, c := range cases {
		got := strings.Join(regexpLiterals(c.expr), "|")
		if got != c.want {
			t.Errorf("regexpLiterals(%q) = %q, want %q", c.expr, got, c.want)
		}
	}
}

// FuzzRegexpLiterals: whenever the regexp matches a text, one of its
// literals occurs in the lowercased text.
func FuzzRegexpLiterals(f *testing.F) {
	f.Add(`(?i)ab(cd|ef)+g`, "xxABEFEFg")
	f.Add(`foo.*bar`, "foo  bar")
	f.Fuzz(func(t *testing.T, expr, text string) {
		re, err := regexp.Compile(expr)
		if err != nil || !re.MatchString(text) {
			return
		}
		lits := regexpLiterals(re.String())
		if lits == nil {
			return
		}
		low := foldLower(text)
		for _, l := range lits {
			if strings.Contains(low, l) {
				return
			}
		}
		t.Fatalf("%q matches %q but contains none of %q", expr, text, lits)
	})
}
