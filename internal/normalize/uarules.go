package normalize

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"

	"github.com/ua-parser/uap-go/uaparser"
	"gopkg.in/yaml.v3"
)

// User agents are parsed with uap-core's rules (the definitions uap-go
// ships) and uap-go's semantics: the first rule of a list whose
// expression matches and whose name is not empty gives the result, names
// and versions expanded from its replacement templates.
//
// uap-go compiles all 1,200 expressions up front, 50 to 80 ms of CPU: a
// fifth of what `normalize` spends on 30,000 records. Here a rule is
// compiled the first time it may match: each rule knows the literal
// texts any match of its expression contains (read from the parsed
// expression, which costs a third of compiling it), and a user agent
// that lacks one of them skips the rule without running it. A stream
// carries few distinct user agents, so only a few dozen rules are ever
// compiled.

// uaRule is one rule of uap-core.
type uaRule struct {
	expr string   // expression, with its flags as a (?flags) prefix
	repl []string // replacement templates: name first, then versions

	prefilterOnce sync.Once
	// needs are groups of lower-case texts: every string the expression
	// matches contains (case aside) a text of each group; nil when
	// nothing is certain. They are ASCII, tested only against ASCII user
	// agents.
	needs [][]string

	compileOnce sync.Once
	re          *regexp.Regexp
}

// uaRuleSet holds the three lists of rules.
type uaRuleSet struct {
	agents, systems, devices []*uaRule
}

// uaRules is built on first use and shared by every Normalizer.
var uaRules = sync.OnceValue(loadUARules)

// loadUARules reads uap-core's rules; none is compiled yet.
func loadUARules() *uaRuleSet {
	var raw struct {
		Agents  []map[string]string `yaml:"user_agent_parsers"`
		Systems []map[string]string `yaml:"os_parsers"`
		Devices []map[string]string `yaml:"device_parsers"`
	}
	if err := yaml.Unmarshal(uaparser.DefinitionYaml, &raw); err != nil {
		panic("normalize: user agent definitions: " + err.Error())
	}
	// The replacement keys of each list, name first, and their defaults
	// (as uap-go's setDefaults).
	build := func(defs []map[string]string, keys, defaults []string) []*uaRule {
		out := make([]*uaRule, len(defs))
		for i, d := range defs {
			r := &uaRule{expr: d["regex"], repl: make([]string, len(keys))}
			if f := d["regex_flag"]; f != "" {
				r.expr = "(?" + f + ")" + r.expr
			}
			for k, key := range keys {
				r.repl[k] = d[key]
				if r.repl[k] == "" {
					r.repl[k] = defaults[k]
				}
			}
			out[i] = r
		}
		return out
	}
	return &uaRuleSet{
		agents: build(raw.Agents,
			[]string{"family_replacement", "v1_replacement", "v2_replacement", "v3_replacement"},
			[]string{"$1", "$2", "$3", "$4"}),
		systems: build(raw.Systems,
			[]string{"os_replacement", "os_v1_replacement", "os_v2_replacement", "os_v3_replacement"},
			[]string{"$1", "$2", "$3", "$4"}),
		// Only the device's name is used; its brand and model are not.
		devices: build(raw.Devices, []string{"device_replacement"}, []string{"$1"}),
	}
}

// parse parses a user agent as uap-go's Parser does.
func (rs *uaRuleSet) parse(s string) uaResult {
	lower := asciiLower(s)
	ua := firstUAMatch(rs.agents, s, lower, false)
	os := firstUAMatch(rs.systems, s, lower, false)
	dev := firstUAMatch(rs.devices, s, lower, true)
	return uaResult{
		name:      ua[0],
		version:   joinVersion(ua[1], ua[2], ua[3]),
		osName:    os[0],
		osVersion: joinVersion(os[1], os[2], os[3]),
		device:    dev[0],
	}
}

// compiled counts the rules compiled so far.
func (rs *uaRuleSet) compiled() int {
	n := 0
	for _, list := range [][]*uaRule{rs.agents, rs.systems, rs.devices} {
		for _, r := range list {
			if r.re != nil {
				n++
			}
		}
	}
	return n
}

// mayMatch reports whether the rule's expression can match a user agent
// whose lower-case form is lower (ASCII only).
func (r *uaRule) mayMatch(lower string) bool {
	r.prefilterOnce.Do(func() {
		if re, err := syntax.Parse(r.expr, syntax.Perl); err == nil {
			r.needs = requiredTexts(re, nil)
		}
	})
	return mayMatchGroups(lower, r.needs)
}

func (r *uaRule) regexp() *regexp.Regexp {
	r.compileOnce.Do(func() { r.re = regexp.MustCompile(r.expr) })
	return r.re
}

// requiredTexts appends to out, in lower case, what every match of re
// contains: groups of literal texts, one text of each group at least.
// Literals make groups of one; what sits inside captures, concatenations
// and repetitions of at least one is required too; an alternation makes
// one group of the texts of its alternatives' first groups (when each has
// one). Optional parts give nothing, and neither do literals with
// non-ASCII letters (case folding beyond ASCII is not lower-casing).
func requiredTexts(re *syntax.Regexp, out [][]string) [][]string {
	switch re.Op {
	case syntax.OpLiteral:
		lit := string(re.Rune)
		for i := 0; i < len(lit); i++ {
			if lit[i] >= 0x80 {
				return out
			}
		}
		return append(out, []string{strings.ToLower(lit)})
	case syntax.OpCapture, syntax.OpPlus:
		return requiredTexts(re.Sub[0], out)
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredTexts(re.Sub[0], out)
		}
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			out = requiredTexts(sub, out)
		}
	case syntax.OpAlternate:
		var anyOf []string
		for _, sub := range re.Sub {
			groups := requiredTexts(sub, nil)
			if len(groups) == 0 {
				return out
			}
			anyOf = append(anyOf, groups[0]...)
		}
		return append(out, anyOf)
	}
	return out
}

// mayMatchGroups reports whether lower holds a text of every group.
func mayMatchGroups(lower string, groups [][]string) bool {
	for _, g := range groups {
		found := false
		for _, text := range g {
			if strings.Contains(lower, text) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// firstUAMatch applies the rules in order to ua, as uap-go does, and returns the
// expansions of the first match with a non-empty name; fields of a
// matching rule with an empty name stay unless a later rule matches. The
// name is "Other" when no rule gives one. trim trims the expansions
// (devices). lower is ua in lower case, or "" when ua is not ASCII, in
// which case every rule is tried.
func firstUAMatch(rules []*uaRule, ua, lower string, trim bool) []string {
	var out []string
	for _, r := range rules {
		if lower != "" && !r.mayMatch(lower) {
			continue
		}
		re := r.regexp()
		m := re.FindStringSubmatchIndex(ua)
		if m == nil {
			continue
		}
		out = make([]string, len(r.repl))
		for i, t := range r.repl {
			out[i] = string(re.ExpandString(nil, t, ua, m))
			if trim {
				out[i] = strings.TrimSpace(out[i])
			}
		}
		if out[0] != "" {
			return out
		}
	}
	if out == nil {
		out = make([]string, 4)
	}
	out[0] = "Other"
	return out
}

// asciiLower returns s in lower case, or "" when s is not ASCII.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return ""
		}
	}
	return strings.ToLower(s)
}
