package sigma

import (
	"strings"
	"unicode/utf8"
)

// pattern is a Sigma string value after modifiers, split into literal text
// and the wildcards `*` (any run of characters) and `?` (one character).
type pattern struct {
	parts []patternPart
}

type patternPart struct {
	lit  string // literal text; empty for a wildcard
	wild byte   // '*' or '?' for a wildcard, 0 for literal text
}

// parsePattern splits a Sigma string into literals and wildcards following
// the specification's escaping: `\*`, `\?` and `\\` are the literal
// characters, any other backslash is itself.
func parsePattern(s string) pattern {
	var p pattern
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			p.parts = append(p.parts, patternPart{lit: b.String()})
			b.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\'):
			b.WriteByte(s[i+1])
			i++
		case c == '*' || c == '?':
			flush()
			p.parts = append(p.parts, patternPart{wild: c})
		default:
			b.WriteByte(c)
		}
	}
	flush()
	return p
}

// literalPattern is a pattern holding s verbatim (no wildcard meaning).
func literalPattern(s string) pattern {
	if s == "" {
		return pattern{}
	}
	return pattern{parts: []patternPart{{lit: s}}}
}

// escapeLiteral turns plain text back into pattern syntax, so a value
// produced by an encoding modifier keeps its characters literal.
func escapeLiteral(s string) string {
	if !strings.ContainsAny(s, `*?\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '*' || c == '?' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// withPrefixStar and withSuffixStar implement contains/startswith/endswith
// by adding wildcards around the value, as the specification defines them.
func (p pattern) withPrefixStar() pattern {
	if len(p.parts) > 0 && p.parts[0].wild == '*' {
		return p
	}
	return pattern{parts: append([]patternPart{{wild: '*'}}, p.parts...)}
}

func (p pattern) withSuffixStar() pattern {
	if n := len(p.parts); n > 0 && p.parts[n-1].wild == '*' {
		return p
	}
	parts := append(append([]patternPart(nil), p.parts...), patternPart{wild: '*'})
	return pattern{parts: parts}
}

func (p pattern) lower() pattern {
	q := pattern{parts: make([]patternPart, len(p.parts))}
	for i, part := range p.parts {
		part.lit = foldLower(part.lit)
		q.parts[i] = part
	}
	return q
}

// longestLiteral is the longest literal run: any match contains it, which
// makes it the pattern's prefilter.
func (p pattern) longestLiteral() string {
	best := ""
	for _, part := range p.parts {
		if len(part.lit) > len(best) {
			best = part.lit
		}
	}
	return best
}

// strMatcher matches one string value; compiled from a pattern into the
// cheapest form that is equivalent.
type strMatcher struct {
	kind  strKind
	lit   string
	glob  pattern
	cased bool
}

type strKind uint8

const (
	strEqual strKind = iota
	strPrefix
	strSuffix
	strContains
	strGlob
)

func newStrMatcher(p pattern, cased bool) strMatcher {
	if !cased {
		p = p.lower()
	}
	m := strMatcher{cased: cased}
	parts := p.parts
	isStar := func(i int) bool { return parts[i].wild == '*' }
	switch {
	case len(parts) == 0:
		m.kind = strEqual
	case len(parts) == 1 && parts[0].wild == 0:
		m.kind, m.lit = strEqual, parts[0].lit
	case len(parts) == 2 && parts[0].wild == 0 && isStar(1):
		m.kind, m.lit = strPrefix, parts[0].lit
	case len(parts) == 2 && isStar(0) && parts[1].wild == 0:
		m.kind, m.lit = strSuffix, parts[1].lit
	case len(parts) == 3 && isStar(0) && parts[1].wild == 0 && isStar(2):
		m.kind, m.lit = strContains, parts[1].lit
	case len(parts) == 1 && isStar(0):
		m.kind = strContains // "*" matches any string, like contains ""
	default:
		m.kind, m.glob = strGlob, p
	}
	return m
}

// match reports whether the value matches; orig is the value as received,
// low its lowercase form.
func (m *strMatcher) match(orig, low string) bool {
	s := low
	if m.cased {
		s = orig
	}
	switch m.kind {
	case strEqual:
		return s == m.lit
	case strPrefix:
		return strings.HasPrefix(s, m.lit)
	case strSuffix:
		return strings.HasSuffix(s, m.lit)
	case strContains:
		return strings.Contains(s, m.lit)
	default:
		return globMatch(m.glob.parts, s)
	}
}

// globMatch matches s against pattern parts; `?` consumes one UTF-8
// character. The backtracking only returns to the last `*`, which keeps it
// linear in practice.
func globMatch(parts []patternPart, s string) bool {
	pi, si := 0, 0
	starPI, starSI := -1, 0
	for {
		if pi < len(parts) {
			part := parts[pi]
			switch part.wild {
			case '*':
				starPI, starSI = pi, si
				pi++
				continue
			case '?':
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					pi++
					continue
				}
			default:
				if strings.HasPrefix(s[si:], part.lit) {
					// A literal after the last star must also end the string
					// when it is the final part; let the end check handle it.
					si += len(part.lit)
					pi++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if starPI < 0 || starSI >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starSI:])
		starSI += n
		pi, si = starPI+1, starSI
	}
}
