package sigma

import (
	"regexp/syntax"
)

// regexpLiterals returns lowercase literals one of which occurs in every
// text the regular expression matches, or nil when there is no such set
// (the rule is then not prefiltered on this regexp). Literals shorter
// than minUsefulLiteral are not worth it.
func regexpLiterals(expr string) []string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	lits, ok := necessaryLiterals(re.Simplify())
	if !ok {
		return nil
	}
	for _, l := range lits {
		if len(l) < minUsefulLiteral {
			return nil
		}
	}
	return lits
}

func necessaryLiterals(re *syntax.Regexp) ([]string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		return []string{foldLower(string(re.Rune))}, true
	case syntax.OpCapture:
		return necessaryLiterals(re.Sub[0])
	case syntax.OpPlus:
		return necessaryLiterals(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return necessaryLiterals(re.Sub[0])
		}
	case syntax.OpConcat:
		// Every operand must match: the best operand's literals do.
		var best []string
		for _, sub := range re.Sub {
			lits, ok := necessaryLiterals(sub)
			if ok && (best == nil || shortest(lits) > shortest(best)) {
				best = lits
			}
		}
		return best, best != nil
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			lits, ok := necessaryLiterals(sub)
			if !ok {
				return nil, false
			}
			out = append(out, lits...)
		}
		return out, true
	}
	return nil, false
}

func shortest(lits []string) int {
	m := 1 << 30
	for _, l := range lits {
		m = min(m, len(l))
	}
	return m
}
