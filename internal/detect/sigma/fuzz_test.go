package sigma

import (
	"regexp"
	"strings"
	"testing"
)

// FuzzCompile: any rule text loads or is skipped with a reason; it never
// panics, and a loaded rule can be evaluated.
func FuzzCompile(f *testing.F) {
	f.Add(rule("sel:\n  a|contains|all:\n    - x\n    - y\ncondition: sel"))
	f.Add(rule("sel:\n  a|re|i: '^x(y|z)$'\nf:\n  b: null\ncondition: sel and not f"))
	f.Add(rule("s1:\n  a|windash|base64offset|contains: '-x'\ns2:\n  - k\ncondition: 1 of s* or all of them"))
	f.Add(baseRules + "---\ntitle: c\ncorrelation:\n  type: temporal\n  rules: [ok_logon]\n  timespan: 1m\n")
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Compile([]Source{{Path: "f.yml", Data: []byte(src)}}, Options{Mapper: testMapper{}, Placeholders: map[string][]string{"p": {"a*"}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range e.Skipped() {
			if s.Reason == "" {
				t.Fatalf("skip without reason: %+v", s)
			}
		}
		x := e.NewEvaluator()
		ev := mapEvent{table: "proc", fields: map[string]any{"a": "x-y", "b": nil, "c": 5}}
		x.Match(ev, nil)
		x.MatchNaive(ev, nil)
	})
}

// FuzzGlob checks the wildcard matcher against a regular expression built
// from the same pattern.
func FuzzGlob(f *testing.F) {
	f.Add("a*b?c", "axxbyc")
	f.Add(`\*x*`, "*xyz")
	f.Add("**?", "é")
	f.Fuzz(func(t *testing.T, pat, s string) {
		if !utf8Valid(pat) || !utf8Valid(s) {
			return
		}
		p := parsePattern(pat)
		var re strings.Builder
		re.WriteString("(?s)^")
		for _, part := range p.parts {
			switch part.wild {
			case '*':
				re.WriteString(".*")
			case '?':
				re.WriteString(".")
			default:
				re.WriteString(regexp.QuoteMeta(part.lit))
			}
		}
		re.WriteString("$")
		want := regexp.MustCompile(re.String()).MatchString(s)
		m := newStrMatcher(p, true)
		if got := m.match(s, s); got != want {
			t.Fatalf("pattern %q on %q: got %v, regexp says %v", pat, s, got, want)
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }

// FuzzAhoCorasick checks the automaton against strings.Contains, with few
// dense states so the sparse part is exercised too.
func FuzzAhoCorasick(f *testing.F) {
	f.Add("he|she|his|hers", "ushers")
	f.Add("abcd|bcde|cd|xyzabc", "xyzabcde")
	f.Add("aaa|aa|a", "baaab")
	f.Fuzz(func(t *testing.T, pats, text string) {
		var patterns []string
		for _, p := range strings.Split(pats, "|") {
			if p != "" {
				patterns = append(patterns, p)
			}
		}
		if len(patterns) == 0 {
			return
		}
		for _, depth := range []int{0, 1, denseDepth} {
			m := newACMatcherDepth(patterns, depth)
			found := map[int32]bool{}
			m.scan(text, func(id int32) { found[id] = true })
			anyWant := false
			for i, p := range patterns {
				want := strings.Contains(text, p)
				anyWant = anyWant || want
				if found[int32(i)] != want {
					t.Fatalf("depth %d: pattern %q in %q: found %v, want %v", depth, p, text, found[int32(i)], want)
				}
			}
			if m.any(text) != anyWant {
				t.Fatalf("depth %d: any(%q) = %v, want %v", depth, text, !anyWant, anyWant)
			}
		}
	})
}
