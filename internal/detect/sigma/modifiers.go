package sigma

import (
	"encoding/base64"
	"strconv"
	"strings"
	"unicode/utf16"

	"gopkg.in/yaml.v3"
)

// fieldCond is one `Field|modifiers: values` item of a selection.
type fieldCond struct {
	field  int              // field id in the engine's field table
	name   string           // as written in the rule, for messages
	groups [][]valueMatcher // one group per rule value; variants inside are OR
	all    bool             // |all: every group must match, else any
	// scope marks the logsource's required values (Scope.Require): shared
	// by every rule of the logsource, so useless as a prefilter.
	scope bool
	// anyOf, for an OR of many plain case-insensitive contains values,
	// finds them all in one pass; rest holds the other values' matchers.
	anyOf *acMatcher
	rest  []valueMatcher
}

// minAnyOf is the number of contains values from which one automaton
// beats testing them one by one.
const minAnyOf = 4

// buildAnyOf compiles the plain contains values of an OR leaf into one
// automaton.
func (fc *fieldCond) buildAnyOf() {
	if fc.all {
		return
	}
	var lits []string
	var rest []valueMatcher
	for _, g := range fc.groups {
		for _, m := range g {
			if m.kind == vmString && !m.negate && !m.str.cased && m.str.kind == strContains && m.str.lit != "" {
				lits = append(lits, m.str.lit)
			} else {
				rest = append(rest, m)
			}
		}
	}
	if len(lits) < minAnyOf {
		return
	}
	// Leaf automata only run on candidate rules: dense rows for the root
	// and its children are enough, and keep a thousand of them small.
	if ac := newACMatcherDepth(lits, 1); ac != nil {
		fc.anyOf, fc.rest = ac, rest
	}
}

// skipError makes a rule load as skipped; Reason groups skips in reports.
type skipError struct {
	Reason string
	Detail string
}

func (e *skipError) Error() string {
	if e.Detail == "" {
		return e.Reason
	}
	return e.Reason + ": " + e.Detail
}

func skipf(reason, format string, args ...any) error {
	return &skipError{Reason: reason, Detail: sprintf(format, args...)}
}

// modifierSet is the parsed `|a|b|c` suffix of a field name.
type modifierSet struct {
	transforms []string // applied to the value in order
	match      string   // contains, startswith, endswith, re, cidr, gt, ..., exists, fieldref
	// refPos is contains, startswith or endswith when one refines
	// fieldref (the referenced value is compared that way).
	refPos  string
	all     bool
	cased   bool
	neq     bool
	reFlags string
}

func parseModifiers(mods []string) (modifierSet, error) {
	var ms modifierSet
	setMatch := func(m string) error {
		if ms.match != "" && ms.match != m {
			// fieldref may be refined by a position modifier.
			isPos := func(x string) bool { return x == "contains" || x == "startswith" || x == "endswith" }
			if ms.match == "fieldref" && isPos(m) && ms.refPos == "" {
				ms.refPos = m
				return nil
			}
			if m == "fieldref" && isPos(ms.match) {
				ms.refPos, ms.match = ms.match, m
				return nil
			}
			return skipf("unsupported modifier combination", "%s with %s", ms.match, m)
		}
		ms.match = m
		return nil
	}
	for _, m := range mods {
		switch m {
		case "contains", "startswith", "endswith", "re", "cidr", "gt", "gte", "lt", "lte", "exists", "fieldref":
			if err := setMatch(m); err != nil {
				return ms, err
			}
		case "all":
			ms.all = true
		case "cased":
			ms.cased = true
		case "neq":
			ms.neq = true
		case "i", "ignorecase":
			ms.reFlags += "i"
		case "m", "multiline":
			ms.reFlags += "m"
		case "s", "dotall":
			ms.reFlags += "s"
		case "base64", "base64offset", "utf16le", "wide", "utf16be", "utf16", "windash", "expand":
			ms.transforms = append(ms.transforms, m)
		default:
			return ms, skipf("unsupported modifier", "%q", m)
		}
	}
	if ms.reFlags != "" && ms.match != "re" {
		return ms, skipf("unsupported modifier combination", "regular expression flags without re")
	}
	if ms.match == "re" || ms.match == "cidr" || ms.match == "exists" || ms.match == "fieldref" || isNumericOp(ms.match) {
		if len(ms.transforms) > 0 {
			return ms, skipf("unsupported modifier combination", "%s with %s", ms.transforms[0], ms.match)
		}
	}
	return ms, nil
}

func isNumericOp(m string) bool { return m == "gt" || m == "gte" || m == "lt" || m == "lte" }

// compileValue turns one rule value into its matcher variants.
func (c *compiler) compileValue(ms modifierSet, v *yaml.Node) ([]valueMatcher, error) {
	if v.Kind != yaml.ScalarNode {
		return nil, skipf("unsupported value", "nested %s in a value list (line %d)", kindName(v), v.Line)
	}
	isNull := v.Tag == "!!null"
	switch ms.match {
	case "exists":
		b, err := strconv.ParseBool(v.Value)
		if err != nil {
			return nil, skipf("invalid value", "exists needs true or false, got %q", v.Value)
		}
		return []valueMatcher{{kind: vmExists, exists: b}}, nil
	case "gt", "gte", "lt", "lte":
		x, err := strconv.ParseFloat(v.Value, 64)
		if err != nil {
			return nil, skipf("invalid value", "%s needs a number, got %q", ms.match, v.Value)
		}
		return []valueMatcher{{kind: vmNumber, op: ms.match, num: x, negate: ms.neq}}, nil
	case "cidr":
		p, err := parseCIDR(v.Value)
		if err != nil {
			return nil, skipf("invalid value", "%v", err)
		}
		return []valueMatcher{{kind: vmCIDR, prefix: p, negate: ms.neq}}, nil
	case "re":
		re, err := compileRegexp(v.Value, ms.reFlags)
		if err != nil {
			return nil, skipf("unsupported regular expression", "%v", err)
		}
		return []valueMatcher{{kind: vmRegexp, re: re, reLits: regexpLiterals(re.String()), negate: ms.neq}}, nil
	case "fieldref":
		key, ok := c.mapper.Field(c.ls, v.Value)
		if !ok {
			return nil, skipf("field not mapped", "%s (%s)", v.Value, c.lsName())
		}
		m := valueMatcher{kind: vmFieldRef, ref: c.fieldID(key), refPos: strEqual, negate: ms.neq}
		m.str.cased = ms.cased
		switch ms.refPos {
		case "contains":
			m.refPos = strContains
		case "startswith":
			m.refPos = strPrefix
		case "endswith":
			m.refPos = strSuffix
		}
		return []valueMatcher{m}, nil
	}
	if isNull {
		if len(ms.transforms) > 0 || ms.match != "" {
			return nil, skipf("unsupported value", "null with modifiers")
		}
		return []valueMatcher{{kind: vmNull, negate: ms.neq}}, nil
	}
	variants := []string{v.Value}
	cased := ms.cased
	for _, t := range ms.transforms {
		var err error
		variants, cased, err = c.transform(t, variants, cased)
		if err != nil {
			return nil, err
		}
	}
	out := make([]valueMatcher, 0, len(variants))
	for _, s := range variants {
		p := parsePattern(s)
		switch ms.match {
		case "contains":
			p = p.withPrefixStar().withSuffixStar()
		case "startswith":
			p = p.withSuffixStar()
		case "endswith":
			p = p.withPrefixStar()
		}
		out = append(out, valueMatcher{kind: vmString, str: newStrMatcher(p, cased), negate: ms.neq})
	}
	return out, nil
}

// maxVariants bounds the expansion of windash/expand/base64offset.
const maxVariants = 4096

// transform applies one value-transforming modifier to every variant. The
// encodings work on the plain text, so a value with wildcards cannot be
// encoded; their output is matched case-sensitively, as encoded text is.
func (c *compiler) transform(t string, in []string, cased bool) ([]string, bool, error) {
	var out []string
	for _, s := range in {
		switch t {
		case "windash":
			out = append(out, windashVariants(s)...)
		case "expand":
			vs, err := c.expand(s)
			if err != nil {
				return nil, cased, err
			}
			out = append(out, vs...)
		default:
			p := parsePattern(s)
			if len(p.parts) > 1 || (len(p.parts) == 1 && p.parts[0].wild != 0) {
				return nil, cased, skipf("unsupported value", "wildcards with %s", t)
			}
			plain := ""
			if len(p.parts) == 1 {
				plain = p.parts[0].lit
			}
			if plain == "" && t == "base64offset" {
				return nil, cased, skipf("invalid value", "empty value with base64offset")
			}
			for _, e := range encode(t, plain) {
				out = append(out, escapeLiteral(e))
			}
			cased = true
		}
		if len(out) > maxVariants {
			return nil, cased, skipf("value expands too much", "more than %d variants", maxVariants)
		}
	}
	return out, cased, nil
}

func encode(t, s string) []string {
	switch t {
	case "base64":
		return []string{base64.StdEncoding.EncodeToString([]byte(s))}
	case "base64offset":
		// The three alignments of s inside a longer base64 text, with the
		// characters that depend on the unknown neighbours cut off.
		starts := [3]int{0, 2, 3}
		ends := [3]int{0, 3, 2}
		var out []string
		for i := 0; i < 3; i++ {
			e := base64.StdEncoding.EncodeToString(append([]byte(strings.Repeat(" ", i)), s...))
			e = e[starts[i]:]
			if cut := ends[(len(s)+i)%3]; cut > 0 {
				e = e[:len(e)-cut]
			}
			out = append(out, e)
		}
		return out
	case "utf16le", "wide":
		return []string{string(utf16Bytes(s, false))}
	case "utf16be":
		return []string{string(utf16Bytes(s, true))}
	default: // utf16: with a little-endian byte order mark
		return []string{"\xff\xfe" + string(utf16Bytes(s, false))}
	}
}

func utf16Bytes(s string, bigEndian bool) []byte {
	units := utf16.Encode([]rune(s))
	b := make([]byte, 0, 2*len(units))
	for _, u := range units {
		if bigEndian {
			b = append(b, byte(u>>8), byte(u))
		} else {
			b = append(b, byte(u), byte(u>>8))
		}
	}
	return b
}

// windashVariants replaces every dash or slash that starts a word (a
// Windows command-line flag) by each character Windows accepts there.
func windashVariants(s string) []string {
	dashes := []string{"-", "/", "\u2013", "\u2014", "\u2015"}
	var positions []int
	for i := 0; i < len(s); i++ {
		if s[i] != '-' && s[i] != '/' {
			continue
		}
		prevWord := i > 0 && isWordByte(s[i-1])
		nextWord := i+1 < len(s) && isWordByte(s[i+1])
		if !prevWord && nextWord {
			positions = append(positions, i)
		}
	}
	out := []string{""}
	last := 0
	for _, p := range positions {
		next := make([]string, 0, len(out)*len(dashes))
		for _, o := range out {
			for _, d := range dashes {
				next = append(next, o+s[last:p]+d)
			}
		}
		out = next
		last = p + 1
		if len(out) > maxVariants {
			break
		}
	}
	for i := range out {
		out[i] += s[last:]
	}
	return out
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// expand replaces %name% placeholders with each of their configured values.
func (c *compiler) expand(s string) ([]string, error) {
	out := []string{""}
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i+1:], '%')
		if j < 0 {
			break
		}
		name := s[i+1 : i+1+j]
		values, ok := c.opts.Placeholders[name]
		if !ok {
			return nil, skipf("placeholder not defined", "%%%s%%", name)
		}
		next := make([]string, 0, len(out)*len(values))
		for _, o := range out {
			for _, v := range values {
				next = append(next, o+s[:i]+v)
			}
		}
		out = next
		s = s[i+2+j:]
		if len(out) > maxVariants {
			return nil, skipf("value expands too much", "more than %d variants", maxVariants)
		}
	}
	for i := range out {
		out[i] += s
	}
	return out, nil
}
