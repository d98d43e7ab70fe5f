package sigma

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// vmKind is the kind of test a compiled value applies to a field.
type vmKind uint8

const (
	vmString   vmKind = iota // wildcard/contains/startswith/endswith/equal
	vmNull                   // field absent or JSON null
	vmExists                 // field present (and not null) == exists
	vmNumber                 // gt, gte, lt, lte
	vmCIDR                   // address inside a prefix
	vmRegexp                 // re (case-sensitive unless |i)
	vmFieldRef               // equal to (or contains, ...) another field
)

// valueMatcher is one compiled rule value (one variant of it when an
// expanding modifier such as windash produced several).
type valueMatcher struct {
	kind   vmKind
	negate bool // neq: the field is present and the test fails
	str    strMatcher
	exists bool
	op     string // gt, gte, lt, lte
	num    float64
	prefix netip.Prefix
	re     *regexp.Regexp
	reLits []string // literals one of which every regexp match contains
	ref    int      // field id of the referenced field (fieldref)
	refPos strKind  // how the referenced value is compared
}

// prefilter returns lowercase literals one of which every value matched
// by m contains, or nil when m cannot be prefiltered.
func (m *valueMatcher) prefilter() []string {
	if m.negate {
		return nil
	}
	switch m.kind {
	case vmString:
		lit := m.str.lit
		if m.str.kind == strGlob {
			lit = m.str.glob.longestLiteral()
		}
		if lit == "" {
			return nil
		}
		return []string{foldLower(lit)}
	case vmRegexp:
		return m.reLits
	}
	return nil
}

// test evaluates the matcher on one field's cached values.
func (m *valueMatcher) test(f *fieldVals, st *evalState) bool {
	switch m.kind {
	case vmNull:
		if !f.present {
			return true
		}
		for _, v := range f.vals {
			if v.Kind == KindNull {
				return true
			}
		}
		return false
	case vmExists:
		present := false
		for _, v := range f.vals {
			if v.Kind != KindNull {
				present = true
				break
			}
		}
		return present == m.exists
	}
	if !f.present {
		return false
	}
	if m.negate {
		for i, v := range f.vals {
			if v.Kind != KindNull && m.testOne(v, f.low[i], st) {
				return false
			}
		}
		return true
	}
	for i, v := range f.vals {
		if v.Kind != KindNull && m.testOne(v, f.low[i], st) {
			return true
		}
	}
	return false
}

func (m *valueMatcher) testOne(v Value, low string, st *evalState) bool {
	switch m.kind {
	case vmString:
		return m.str.match(v.S, low)
	case vmNumber:
		x, err := strconv.ParseFloat(strings.TrimSpace(v.S), 64)
		if err != nil {
			return false
		}
		switch m.op {
		case "gt":
			return x > m.num
		case "gte":
			return x >= m.num
		case "lt":
			return x < m.num
		default:
			return x <= m.num
		}
	case vmCIDR:
		a, err := netip.ParseAddr(strings.TrimSpace(v.S))
		return err == nil && m.prefix.Contains(a.Unmap())
	case vmRegexp:
		return m.re.MatchString(v.S)
	case vmFieldRef:
		ref := st.field(m.ref)
		for i, r := range ref.vals {
			if r.Kind == KindNull {
				continue
			}
			a, b := low, ref.low[i]
			if m.str.cased {
				a, b = v.S, r.S
			}
			switch m.refPos {
			case strPrefix:
				if strings.HasPrefix(a, b) {
					return true
				}
			case strSuffix:
				if strings.HasSuffix(a, b) {
					return true
				}
			case strContains:
				if strings.Contains(a, b) {
					return true
				}
			default:
				if a == b {
					return true
				}
			}
		}
		return false
	}
	return false
}

// compileRegexp applies the re sub-modifiers i, m and s as RE2 flags.
// Sigma regular expressions are PCRE-like; a construct RE2 lacks
// (look-around, back-references) fails here, which skips the rule.
func compileRegexp(expr string, flags string) (*regexp.Regexp, error) {
	if flags != "" {
		expr = "(?" + flags + ")" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("regular expression not supported (RE2 syntax): %w", err)
	}
	return re, nil
}

func parseCIDR(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		if a, err2 := netip.ParseAddr(strings.TrimSpace(s)); err2 == nil {
			return netip.PrefixFrom(a, a.BitLen()), nil
		}
		return netip.Prefix{}, fmt.Errorf("cidr value %q: %w", s, err)
	}
	return p.Masked(), nil
}
