package sigma

import (
	"errors"
	"slices"
	"sort"
	"strings"
)

// Engine holds compiled rules indexed by table. It is immutable after
// Compile and safe for concurrent use; evaluation state lives in an
// Evaluator (one per goroutine).
type Engine struct {
	rules        []*Rule
	correlations []*Correlation
	skipped      []Skipped
	keys         []string // field id -> Event key
	tables       map[string]*tableIndex
	any          *tableIndex // rules for every table, used for unknown tables
}

// tableIndex is the set of rules one table's events meet, with the
// prefilters that pick the candidates among them.
type tableIndex struct {
	rules   []*Rule
	always  []int32 // rules without a usable prefilter: always evaluated
	filters []fieldFilter
}

// fieldFilter is one Aho-Corasick automaton over the literals rules need
// in one field; a hit makes the rules needing that literal candidates.
type fieldFilter struct {
	field    int
	ac       *acMatcher
	patRules [][]int32 // pattern id -> positions in tableIndex.rules
}

// Compile loads and compiles rules. Rules that cannot be evaluated
// faithfully are returned as skipped, never loaded; an error is only
// returned for unusable options.
func Compile(sources []Source, opts Options) (*Engine, error) {
	if opts.Mapper == nil {
		return nil, errors.New("sigma: Options.Mapper is required")
	}
	c := &compiler{opts: opts, mapper: opts.Mapper, fields: map[string]int{}}
	e := &Engine{tables: map[string]*tableIndex{}}
	seen := map[string]string{}
	var pending []pendingCorrelation
	for _, src := range sources {
		for _, pd := range parseFile(src) {
			err := pd.err
			if err == nil && pd.doc.Correlation.Kind != 0 {
				pending = append(pending, pendingCorrelation{src: src, doc: pd.doc})
				continue
			}
			if err == nil {
				var r *Rule
				if r, err = c.compileRule(src, pd.doc); err == nil {
					if prev, dup := seen[r.ID]; dup && r.ID != "" {
						err = skipf("duplicate rule id", "%s also in %s", r.ID, prev)
					} else {
						seen[r.ID] = src.Path
						r.index = len(e.rules)
						e.rules = append(e.rules, r)
						continue
					}
				}
			}
			e.skip(src, pd.doc, err)
		}
	}
	for _, p := range pending {
		corr, err := c.compileCorrelation(p.src, p.doc, e.rules)
		if err != nil {
			e.skip(p.src, p.doc, err)
			continue
		}
		e.correlations = append(e.correlations, corr)
	}
	markCorrelationOnly(e.rules, e.correlations)
	e.keys = c.keys
	e.buildIndex()
	return e, nil
}

func (e *Engine) skip(src Source, doc *ruleDoc, err error) {
	sk := Skipped{Path: src.Path, Reason: "invalid rule", Detail: err.Error()}
	var se *skipError
	if errors.As(err, &se) {
		sk.Reason, sk.Detail = se.Reason, se.Detail
	}
	if doc != nil {
		sk.ID, sk.Title = doc.ID, doc.Title
	}
	e.skipped = append(e.skipped, sk)
}

// Correlations returns the loaded correlation rules.
func (e *Engine) Correlations() []*Correlation { return e.correlations }

// Rules returns the loaded rules.
func (e *Engine) Rules() []*Rule { return e.rules }

// Skipped returns the rules that did not load, with the reasons.
func (e *Engine) Skipped() []Skipped { return e.skipped }

// Tables lists the tables that have rules of their own.
func (e *Engine) Tables() []string {
	var out []string
	for t := range e.tables {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func (e *Engine) buildIndex() {
	byTable := map[string][]*Rule{}
	var anyTable []*Rule
	for _, r := range e.rules {
		if len(r.tables) == 0 {
			anyTable = append(anyTable, r)
			continue
		}
		for _, t := range r.tables {
			byTable[t] = append(byTable[t], r)
		}
	}
	for t, rules := range byTable {
		all := append(append([]*Rule(nil), rules...), anyTable...)
		sort.Slice(all, func(i, j int) bool { return all[i].index < all[j].index })
		e.tables[t] = newTableIndex(all)
	}
	e.any = newTableIndex(anyTable)
}

func newTableIndex(rules []*Rule) *tableIndex {
	ti := &tableIndex{rules: rules}
	type fieldPats struct {
		ids   map[string]int32
		pats  []string
		rules [][]int32
	}
	perField := map[int]*fieldPats{}
	for pos, r := range rules {
		atoms, ok := need(r.root)
		if !ok {
			ti.always = append(ti.always, int32(pos))
			continue
		}
		for _, a := range atoms {
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
			if rs := fp.rules[id]; len(rs) == 0 || rs[len(rs)-1] != int32(pos) {
				fp.rules[id] = append(rs, int32(pos))
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
			for _, rs := range fp.rules {
				ti.always = append(ti.always, rs...)
			}
			continue
		}
		ti.filters = append(ti.filters, fieldFilter{field: f, ac: ac, patRules: fp.rules})
	}
	slices.Sort(ti.always)
	ti.always = slices.Compact(ti.always)
	return ti
}

// atom is a literal that must occur (lowercased) in a field's value for a
// rule to possibly match.
type atom struct {
	field int
	lit   string
}

// need returns atoms at least one of which is present in any event the
// node matches. ok is false when no such set is known (negations, regular
// expressions, null tests, ...): the rule is then always evaluated.
func need(n *node) ([]atom, bool) {
	switch n.op {
	case opLeaf:
		return needLeaf(n.cond)
	case opOr, opAtLeast:
		var out []atom
		for _, k := range n.kids {
			a, ok := need(k)
			if !ok {
				return nil, false
			}
			out = append(out, a...)
		}
		return out, true
	case opAnd:
		var best []atom
		found := false
		for _, k := range n.kids {
			if a, ok := need(k); ok && (!found || betterAtoms(a, best)) {
				best, found = a, true
			}
		}
		return best, found
	case opFalse:
		return nil, true // never matches: needs nothing, is never a candidate
	}
	return nil, false
}

// minUsefulLiteral is the shortest literal worth prefiltering on: shorter
// ones occur in nearly every value.
const minUsefulLiteral = 3

func needLeaf(fc *fieldCond) ([]atom, bool) {
	if fc.scope {
		return nil, false
	}
	groupAtoms := func(g []valueMatcher) ([]atom, bool) {
		out := make([]atom, 0, len(g))
		for i := range g {
			lit := g[i].prefilter()
			if lit == "" {
				return nil, false
			}
			out = append(out, atom{field: fc.field, lit: lit})
		}
		return out, true
	}
	if fc.all {
		var best []atom
		found := false
		for _, g := range fc.groups {
			if a, ok := groupAtoms(g); ok && (!found || betterAtoms(a, best)) {
				best, found = a, true
			}
		}
		return best, found
	}
	var out []atom
	for _, g := range fc.groups {
		a, ok := groupAtoms(g)
		if !ok {
			return nil, false
		}
		out = append(out, a...)
	}
	return out, true
}

// betterAtoms prefers the set whose shortest literal is longer (more
// selective), then the smaller set.
func betterAtoms(a, b []atom) bool {
	ma, mb := minLit(a), minLit(b)
	if (ma >= minUsefulLiteral) != (mb >= minUsefulLiteral) {
		return ma >= minUsefulLiteral
	}
	if len(a) != len(b) && ma >= minUsefulLiteral {
		return len(a) < len(b)
	}
	return ma > mb
}

func minLit(a []atom) int {
	m := 1 << 30
	for _, x := range a {
		m = min(m, len(x.lit))
	}
	return m
}

// ruleNeedsLiteral reports, for tests and diagnostics, the literals a rule
// is prefiltered on.
func ruleNeedsLiteral(r *Rule) []string {
	atoms, ok := need(r.root)
	if !ok {
		return nil
	}
	var out []string
	for _, a := range atoms {
		out = append(out, a.lit)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

var _ = strings.ToLower
