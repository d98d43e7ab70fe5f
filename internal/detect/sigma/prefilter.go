package sigma

import (
	"slices"
	"sort"
)

// The prefilter: for each rule, a conjunction of clauses, each a
// disjunction of literals that must occur (lowercased) in a field. A rule
// is only evaluated when every clause has a literal present in the event,
// which one Aho-Corasick scan per field finds for all rules at once. The
// clauses are necessary conditions derived from the rule, never
// sufficient ones, so the prefilter can only skip rules that cannot
// match.

// tableIndex is the set of rules one table's events meet, with the
// prefilters that pick the candidates among them.
type tableIndex struct {
	rules   []*Rule
	always  []int32 // rules without a usable prefilter: always evaluated
	full    []uint8 // rule position -> mask with one bit per clause (0 for always)
	filters []fieldFilter
}

// fieldFilter is one automaton over the literals rules need in one field.
type fieldFilter struct {
	field    int
	ac       *acMatcher
	patRules [][]clauseRef // pattern id -> the rule clauses it satisfies
}

type clauseRef struct {
	pos int32 // rule position in tableIndex.rules
	bit uint8 // the clause's bit in the rule's mask
}

// atom is a literal that must occur (lowercased) in a field's value.
type atom struct {
	field int
	lit   string
}

// clause is satisfied when any of its atoms occurs; an empty clause can
// never be satisfied (the node can never match).
type clause []atom

// maxClauses bounds the clauses kept per rule (the most selective ones).
const maxClauses = 8

// minUsefulLiteral is the shortest literal worth prefiltering on: shorter
// ones occur in nearly every value.
const minUsefulLiteral = 3

func newTableIndex(rules []*Rule) *tableIndex {
	ti := &tableIndex{rules: rules, full: make([]uint8, len(rules))}
	type fieldPats struct {
		ids   map[string]int32
		pats  []string
		rules [][]clauseRef
	}
	perField := map[int]*fieldPats{}
	for pos, r := range rules {
		clauses, ok := needClauses(r.root)
		if !ok {
			ti.always = append(ti.always, int32(pos))
			continue
		}
		clauses = bestClauses(clauses)
		for i, cl := range clauses {
			ti.full[pos] |= 1 << i
			for _, a := range cl {
				fp := perField[a.field]
				if fp == nil {
					fp = &fieldPats{ids: map[string]int32{}}
					perField[a.field] = fp
				}
				id, ok := fp.ids[a.lit]
				if !ok {
					id = int32(len(fp.pats))
					fp.ids[a.lit] = id
					fp.pats = append(fp.pats, a.lit)
					fp.rules = append(fp.rules, nil)
				}
				ref := clauseRef{pos: int32(pos), bit: uint8(i)}
				if !slices.Contains(fp.rules[id], ref) {
					fp.rules[id] = append(fp.rules[id], ref)
				}
			}
		}
	}
	fields := make([]int, 0, len(perField))
	for f := range perField {
		fields = append(fields, f)
	}
	sort.Ints(fields)
	for _, f := range fields {
		fp := perField[f]
		ac := newACMatcher(fp.pats)
		if ac == nil { // too large: these rules lose their prefilter
			for _, refs := range fp.rules {
				for _, ref := range refs {
					ti.always = append(ti.always, ref.pos)
					ti.full[ref.pos] = 0 // never a candidate twice
				}
			}
			continue
		}
		ti.filters = append(ti.filters, fieldFilter{field: f, ac: ac, patRules: fp.rules})
	}
	slices.Sort(ti.always)
	ti.always = slices.Compact(ti.always)
	return ti
}

// needClauses returns clauses that all hold for any event the node
// matches. ok is false when not even one is known (negations, regular
// expressions, null tests, ...): the rule is then always evaluated.
func needClauses(n *node) ([]clause, bool) {
	switch n.op {
	case opLeaf:
		cl, ok := needLeaf(n.cond)
		if !ok {
			return nil, false
		}
		return []clause{cl}, true
	case opAnd:
		var out []clause
		for _, k := range n.kids {
			if cs, ok := needClauses(k); ok {
				out = append(out, cs...)
			}
		}
		return out, len(out) > 0
	case opOr, opAtLeast:
		// One clause: the union of one clause of each operand.
		var union clause
		for _, k := range n.kids {
			cs, ok := needClauses(k)
			if !ok {
				return nil, false
			}
			union = append(union, bestClauses(cs)[0]...)
		}
		return []clause{union}, true
	case opFalse:
		return []clause{{}}, true // never matches: never a candidate
	}
	return nil, false
}

func needLeaf(fc *fieldCond) (clause, bool) {
	if fc.scope {
		return nil, false
	}
	groupAtoms := func(g []valueMatcher) (clause, bool) {
		out := make(clause, 0, len(g))
		for i := range g {
			lits := g[i].prefilter()
			if len(lits) == 0 {
				return nil, false
			}
			for _, lit := range lits {
				out = append(out, atom{field: fc.field, lit: lit})
			}
		}
		return out, true
	}
	if fc.all {
		// Every value must match: any one value's literals are necessary;
		// keep the most selective.
		var best clause
		found := false
		for _, g := range fc.groups {
			if a, ok := groupAtoms(g); ok && (!found || betterClause(a, best)) {
				best, found = a, true
			}
		}
		return best, found
	}
	var out clause
	for _, g := range fc.groups {
		a, ok := groupAtoms(g)
		if !ok {
			return nil, false
		}
		out = append(out, a...)
	}
	return out, true
}

// bestClauses orders clauses most selective first and keeps maxClauses;
// clauses made only of too-short literals are dropped unless nothing else
// is left.
func bestClauses(cs []clause) []clause {
	sorted := append([]clause(nil), cs...)
	sort.SliceStable(sorted, func(i, j int) bool { return betterClause(sorted[i], sorted[j]) })
	n := 0
	for n < len(sorted) && n < maxClauses && (n == 0 || minLit(sorted[n]) >= minUsefulLiteral) {
		n++
	}
	return sorted[:n]
}

// betterClause prefers the clause whose shortest literal is longer (more
// selective), then the smaller one. An empty clause (never satisfied) is
// the best of all.
func betterClause(a, b clause) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == 0 && len(b) != 0
	}
	ma, mb := minLit(a), minLit(b)
	if (ma >= minUsefulLiteral) != (mb >= minUsefulLiteral) {
		return ma >= minUsefulLiteral
	}
	if len(a) != len(b) && ma >= minUsefulLiteral {
		return len(a) < len(b)
	}
	return ma > mb
}

func minLit(c clause) int {
	m := 1 << 30
	for _, x := range c {
		m = min(m, len(x.lit))
	}
	return m
}
