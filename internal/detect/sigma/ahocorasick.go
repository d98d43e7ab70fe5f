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
	// Trie with sparse children (sorted by class), in insertion order.
	type edge struct {
		class uint16
		child int32
	}
	type trieNode struct {
		next  []edge
		out   []int32
		depth int
	}
	child := func(n *trieNode, c uint16) (int32, bool) {
		i := sort.Search(len(n.next), func(i int) bool { return n.next[i].class >= c })
		if i < len(n.next) && n.next[i].class == c {
			return n.next[i].child, true
		}
		return 0, false
	}
	nodes := []trieNode{{}}
	for id, p := range patterns {
		s := int32(0)
		for i := 0; i < len(p); i++ {
			c := m.classes[p[i]]
			nx, ok := child(&nodes[s], c)
			if !ok {
				nx = int32(len(nodes))
				nodes = append(nodes, trieNode{depth: nodes[s].depth + 1})
				n := &nodes[s]
				j := sort.Search(len(n.next), func(j int) bool { return n.next[j].class >= c })
				n.next = append(n.next, edge{})
				copy(n.next[j+1:], n.next[j:])
				n.next[j] = edge{c, nx}
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
		for _, e := range nodes[old].next {
			order = append(order, e.child)
		}
	}
	n := int32(len(order))
	for m.nDense < n && m.nDense < maxDenseStates && nodes[order[m.nDense]].depth <= depth {
		m.nDense++
	}
	m.dense = make([]int32, int(m.nDense)*int(m.nclass))
	m.fail = make([]int32, n)
	m.edgeStart = make([]int32, 0, n-m.nDense+1)
	for s := int32(0); s < n; s++ {
		old := order[s]
		if s >= m.nDense {
			m.edgeStart = append(m.edgeStart, int32(len(m.edgeClass)))
			for _, e := range nodes[old].next {
				m.edgeClass = append(m.edgeClass, e.class)
				m.edgeNext = append(m.edgeNext, renum[e.child])
			}
		}
	}
	m.edgeStart = append(m.edgeStart, int32(len(m.edgeClass)))
	// Failure links, outputs and dense rows, breadth first.
	// Outputs: a state's own patterns, then its failure target's (fail[s]
	// < s, so those are complete already).
	m.outStart = make([]int32, n+1)
	for s := int32(0); s < n; s++ {
		old := order[s]
		m.outStart[s] = int32(len(m.outIDs))
		m.outIDs = append(m.outIDs, nodes[old].out...)
		if s > 0 {
			f := m.fail[s]
			m.outIDs = append(m.outIDs, m.outIDs[m.outStart[f]:m.outStart[f+1]]...)
		}
		for _, e := range nodes[old].next {
			if s == 0 {
				m.fail[renum[e.child]] = 0
			} else {
				m.fail[renum[e.child]] = m.step(m.fail[s], e.class)
			}
		}
		if s < m.nDense {
			row := m.dense[int(s)*int(m.nclass):][:m.nclass]
			if s > 0 {
				copy(row, m.dense[int(m.fail[s])*int(m.nclass):][:m.nclass])
			}
			for _, e := range nodes[old].next {
				row[e.class] = renum[e.child]
			}
		}
	}
	m.outStart[n] = int32(len(m.outIDs))
	return m
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
