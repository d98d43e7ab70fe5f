package sigma

import "sort"

// acMatcher is an Aho-Corasick automaton. States are numbered breadth
// first; the shallow ones (where a scan spends nearly all its time, since
// text rarely follows a pattern for long) have dense rows of complete
// transitions over byte classes, one load per byte. Deeper states keep
// only their children and a failure link, which bounds memory by the
// patterns' total length instead of states × alphabet.
type acMatcher struct {
	classes [256]uint16
	nclass  int32
	nDense  int32   // states [0, nDense) have dense rows
	dense   []int32 // nDense*nclass: complete transitions of dense states
	// Sparse states s >= nDense: children sorted by class in
	// edgeClass/edgeNext[edgeStart[s-nDense]:edgeStart[s-nDense+1]].
	edgeStart []int32
	edgeClass []uint16
	edgeNext  []int32
	fail      []int32 // every state's failure link
	outStart  []int32 // state -> first index in outIDs (len = states+1)
	outIDs    []int32 // pattern ids ending at each state, via failure links too
}

// maxDenseStates bounds the dense rows (memory nclass*4 bytes each).
const maxDenseStates = 16384

// denseDepth is the depth up to which states get dense rows.
const denseDepth = 4

// newACMatcher builds the automaton for patterns (already folded).
func newACMatcher(patterns []string) *acMatcher {
	return newACMatcherDepth(patterns, denseDepth)
}

// newACMatcherDepth gives dense rows to states up to depth (tests use 0
// to exercise the sparse states).
func newACMatcherDepth(patterns []string, depth int) *acMatcher {
	m := &acMatcher{}
	for _, p := range patterns {
		for i := 0; i < len(p); i++ {
			if m.classes[p[i]] == 0 {
				m.nclass++
				m.classes[p[i]] = uint16(m.nclass)
			}
		}
	}
	m.nclass++ // class 0: bytes in no pattern
	// Trie with sparse children, in insertion order.
	type trieNode struct {
		next  map[uint16]int32
		out   []int32
		depth int
	}
	nodes := []trieNode{{next: map[uint16]int32{}}}
	for id, p := range patterns {
		s := int32(0)
		for i := 0; i < len(p); i++ {
			c := m.classes[p[i]]
			nx, ok := nodes[s].next[c]
			if !ok {
				nx = int32(len(nodes))
				nodes = append(nodes, trieNode{next: map[uint16]int32{}, depth: nodes[s].depth + 1})
				nodes[s].next[c] = nx
			}
			s = nx
		}
		nodes[s].out = append(nodes[s].out, int32(id))
	}
	// Breadth-first numbering: depth never decreases along it, so a
	// state's failure target (strictly shallower) always comes first.
	order := make([]int32, 0, len(nodes)) // new -> old
	renum := make([]int32, len(nodes))    // old -> new
	order = append(order, 0)
	for qi := 0; qi < len(order); qi++ {
		old := order[qi]
		renum[old] = int32(qi)
		for _, c := range sortedClasses(nodes[old].next) {
			order = append(order, nodes[old].next[c])
		}
	}
	n := int32(len(order))
	for m.nDense < n && m.nDense < maxDenseStates && nodes[order[m.nDense]].depth <= depth {
		m.nDense++
	}
	m.dense = make([]int32, int(m.nDense)*int(m.nclass))
	m.fail = make([]int32, n)
	m.edgeStart = make([]int32, 0, n-m.nDense+1)
	outs := make([][]int32, n)
	for s := int32(0); s < n; s++ {
		old := order[s]
		if s >= m.nDense {
			m.edgeStart = append(m.edgeStart, int32(len(m.edgeClass)))
			for _, c := range sortedClasses(nodes[old].next) {
				m.edgeClass = append(m.edgeClass, c)
				m.edgeNext = append(m.edgeNext, renum[nodes[old].next[c]])
			}
		}
	}
	m.edgeStart = append(m.edgeStart, int32(len(m.edgeClass)))
	// Failure links, outputs and dense rows, breadth first.
	for s := int32(0); s < n; s++ {
		old := order[s]
		outs[s] = append(outs[s], nodes[old].out...)
		if s > 0 {
			outs[s] = append(outs[s], outs[m.fail[s]]...)
		}
		for c, child := range nodes[old].next {
			child := renum[child]
			if s == 0 {
				m.fail[child] = 0
			} else {
				m.fail[child] = m.step(m.fail[s], c)
			}
		}
		if s < m.nDense {
			row := m.dense[int(s)*int(m.nclass):][:m.nclass]
			for c := int32(0); c < m.nclass; c++ {
				if child, ok := nodes[old].next[uint16(c)]; ok {
					row[c] = renum[child]
				} else if s > 0 {
					row[c] = m.step(m.fail[s], uint16(c))
				}
			}
		}
	}
	m.outStart = make([]int32, n+1)
	for s := int32(0); s < n; s++ {
		m.outStart[s] = int32(len(m.outIDs))
		m.outIDs = append(m.outIDs, outs[s]...)
	}
	m.outStart[n] = int32(len(m.outIDs))
	return m
}

func sortedClasses(next map[uint16]int32) []uint16 {
	cs := make([]uint16, 0, len(next))
	for c := range next {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i] < cs[j] })
	return cs
}

// step is the transition from state s on class c, following failure links
// from sparse states until a child or a dense row decides.
func (m *acMatcher) step(s int32, c uint16) int32 {
	for {
		if s < m.nDense {
			return m.dense[s*m.nclass+int32(c)]
		}
		i := s - m.nDense
		lo, hi := m.edgeStart[i], m.edgeStart[i+1]
		for j := lo; j < hi; j++ {
			if m.edgeClass[j] == c {
				return m.edgeNext[j]
			}
			if m.edgeClass[j] > c {
				break
			}
		}
		s = m.fail[s]
	}
}

// scan calls hit for every pattern occurrence in s (a pattern may be
// reported more than once).
func (m *acMatcher) scan(s string, hit func(id int32)) {
	state := int32(0)
	for i := 0; i < len(s); i++ {
		c := m.classes[s[i]]
		if state < m.nDense {
			state = m.dense[state*m.nclass+int32(c)]
		} else {
			state = m.step(state, c)
		}
		if a, b := m.outStart[state], m.outStart[state+1]; a != b {
			for _, id := range m.outIDs[a:b] {
				hit(id)
			}
		}
	}
}

// any reports whether any pattern occurs in s.
func (m *acMatcher) any(s string) bool {
	state := int32(0)
	for i := 0; i < len(s); i++ {
		c := m.classes[s[i]]
		if state < m.nDense {
			state = m.dense[state*m.nclass+int32(c)]
		} else {
			state = m.step(state, c)
		}
		if m.outStart[state] != m.outStart[state+1] {
			return true
		}
	}
	return false
}
