package sigma

import (
	"slices"
)

// Evaluator evaluates events against an Engine. It reuses its buffers, so
// it is not safe for concurrent use: create one per goroutine.
type Evaluator struct {
	e     *Engine
	st    evalState
	mark  []uint32 // rule position -> generation of mask
	mask  []uint8  // rule position -> clauses satisfied so far
	cands []int32
	// evaluated counts full rule evaluations, for benchmarks and metrics.
	evaluated uint64
}

// Evaluated returns how many rules were fully evaluated so far (rules the
// index and prefilters let through).
func (x *Evaluator) Evaluated() uint64 { return x.evaluated }

// evalState caches each field's values, lowercased once, for one event.
type evalState struct {
	ev    Event
	keys  []string
	gen   uint32
	cache []fieldVals
}

type fieldVals struct {
	gen     uint32
	present bool
	vals    []Value
	low     []string
}

func (st *evalState) field(id int) *fieldVals {
	f := &st.cache[id]
	if f.gen == st.gen {
		return f
	}
	f.gen = st.gen
	vals, ok := st.ev.Get(st.keys[id])
	f.present = ok
	f.vals = append(f.vals[:0], vals...)
	f.low = f.low[:0]
	for _, v := range f.vals {
		f.low = append(f.low, foldLower(v.S))
	}
	return f
}

// NewEvaluator returns an Evaluator for e.
func (e *Engine) NewEvaluator() *Evaluator {
	maxRules := len(e.any.rules)
	for _, t := range e.tables {
		maxRules = max(maxRules, len(t.rules))
	}
	return &Evaluator{
		e:    e,
		st:   evalState{keys: e.keys, cache: make([]fieldVals, len(e.keys))},
		mark: make([]uint32, maxRules),
		mask: make([]uint8, maxRules),
	}
}

func (x *Evaluator) begin(ev Event) {
	x.st.ev = ev
	x.st.gen++
	if x.st.gen == 0 { // wrapped: forget every cached generation
		for i := range x.st.cache {
			x.st.cache[i].gen = 0
		}
		clear(x.mark)
		x.st.gen = 1
	}
}

// Match appends to dst the rules that match ev, in load order. Only the
// rules of the event's table are considered, and among them only those
// whose prefilter literals occur in the event (or that have none).
func (x *Evaluator) Match(ev Event, dst []*Rule) []*Rule {
	x.begin(ev)
	ti := x.e.tables[ev.Table()]
	if ti == nil {
		ti = x.e.any
	}
	gen := x.st.gen
	x.cands = append(x.cands[:0], ti.always...)
	for fi := range ti.filters {
		ff := &ti.filters[fi]
		f := x.st.field(ff.field)
		for _, low := range f.low {
			ff.ac.scan(low, func(id int32) {
				for _, ref := range ff.patRules[id] {
					x.satisfy(ti, ref, gen)
				}
			})
		}
	}
	cands := x.cands
	slices.Sort(cands)
	x.evaluated += uint64(len(cands))
	for _, pos := range cands {
		r := ti.rules[pos]
		if x.st.eval(r.root) {
			dst = append(dst, r)
		}
	}
	x.cands = cands
	return dst
}

// satisfy records that a clause of a rule holds for the current event;
// the rule becomes a candidate when all its clauses hold.
func (x *Evaluator) satisfy(ti *tableIndex, ref clauseRef, gen uint32) {
	pos := ref.pos
	if x.mark[pos] != gen {
		x.mark[pos], x.mask[pos] = gen, 0
	}
	old := x.mask[pos]
	now := old | 1<<ref.bit
	if now != old {
		x.mask[pos] = now
		if now == ti.full[pos] {
			x.cands = append(x.cands, pos)
		}
	}
}

// MatchNaive evaluates every loaded rule on ev, ignoring the table index
// and the prefilters. It is the baseline the benchmarks compare Match to,
// and a cross-check in tests: Match must give the same rules.
func (x *Evaluator) MatchNaive(ev Event, dst []*Rule) []*Rule {
	x.begin(ev)
	table := ev.Table()
	for _, r := range x.e.rules {
		if len(r.tables) > 0 && !slices.Contains(r.tables, table) {
			continue
		}
		x.evaluated++
		if x.st.eval(r.root) {
			dst = append(dst, r)
		}
	}
	return dst
}

// MatchRule evaluates one rule on ev, whatever its table.
func (x *Evaluator) MatchRule(r *Rule, ev Event) bool {
	x.begin(ev)
	return x.st.eval(r.root)
}

func (st *evalState) eval(n *node) bool {
	switch n.op {
	case opLeaf:
		return st.evalLeaf(n.cond)
	case opAnd:
		for _, k := range n.kids {
			if !st.eval(k) {
				return false
			}
		}
		return true
	case opOr:
		for _, k := range n.kids {
			if st.eval(k) {
				return true
			}
		}
		return false
	case opNot:
		return !st.eval(n.kids[0])
	case opTrue:
		return true
	case opAtLeast:
		hits := 0
		for _, k := range n.kids {
			if st.eval(k) {
				if hits++; hits >= n.n {
					return true
				}
			}
		}
	}
	return false
}

func (st *evalState) evalLeaf(fc *fieldCond) bool {
	f := st.field(fc.field)
	if fc.anyOf != nil {
		for i, v := range f.vals {
			if v.Kind != KindNull && fc.anyOf.any(f.low[i]) {
				return true
			}
		}
		for i := range fc.rest {
			if fc.rest[i].test(f, st) {
				return true
			}
		}
		return false
	}
	for _, g := range fc.groups {
		ok := false
		for i := range g {
			if g[i].test(f, st) {
				ok = true
				break
			}
		}
		if fc.all && !ok {
			return false
		}
		if !fc.all && ok {
			return true
		}
	}
	return fc.all
}
