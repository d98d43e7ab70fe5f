package sigma

import (
	"fmt"
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

// FuzzPrefilter: the table index and the literal prefilters never drop a
// rule that matches (Match agrees with MatchNaive), on rules using every
// kind of value and condition.
func FuzzPrefilter(f *testing.F) {
	rules := []string{
		"sel:\n  Image|endswith: '\\whoami.exe'\n  CommandLine|contains|all: [' /all', 'who']\ncondition: sel",
		"sel:\n  CommandLine|re: '(?i)invoke-(expression|webrequest)'\nf:\n  Image|contains: 'azure'\ncondition: sel and not f",
		"a:\n  CommandLine|windash|contains: [' -enc ', ' -ec ']\nb:\n  Image|startswith: 'C:\\Windows\\'\ncondition: a or b and not a",
		"s1:\n  CommandLine|base64offset|contains: 'http://'\ns2:\n  - Image: '*\\pow?rshell.exe'\n  - CommandLine|contains: [aaa, bbb, ccc, ddd, eee]\ncondition: 1 of s*",
		"k:\n  - mimikatz\n  - 'sekurlsa::*'\ncondition: k",
		"x:\n  CommandLine|contains: abc\ny:\n  CommandLine|contains: xyz\nz:\n  Image|endswith: .exe\ncondition: 2 of them",
		"n:\n  Image: null\nm:\n  CommandLine|re: 'ab+c'\ncondition: n and m",
	}
	var srcs []Source
	for i, r := range rules {
		srcs = append(srcs, Source{Path: fmt.Sprint(i), Data: []byte(strings.Replace(rule(r), "id: r1", fmt.Sprintf("id: r%d", i), 1))})
	}
	e, err := Compile(srcs, Options{Mapper: testMapper{}})
	if err != nil || len(e.Skipped()) > 0 {
		f.Fatalf("compile: %v %+v", err, e.Skipped())
	}
	f.Add(`C:\Windows\System32\whoami.exe`, "whoami /all", true)
	f.Add(`C:\x\powershell.exe`, "powershell -enc aHR0cDovL2V4YW1wbGU=", true)
	f.Add("", "Invoke-Expression abbbc sekurlsa::x", false)
	f.Fuzz(func(t *testing.T, image, cmd string, withImage bool) {
		fields := map[string]any{"CommandLine": cmd}
		if withImage {
			fields["Image"] = image
		}
		ev := mapEvent{table: "proc", fields: fields}
		x := e.NewEvaluator()
		var a, b []string
		for _, r := range x.Match(ev, nil) {
			a = append(a, r.ID)
		}
		for _, r := range x.MatchNaive(ev, nil) {
			b = append(b, r.ID)
		}
		if strings.Join(a, ",") != strings.Join(b, ",") {
			t.Fatalf("image %q cmd %q: indexed %v, naive %v", image, cmd, a, b)
		}
	})
}
