package sigma

// acMatcher is an Aho-Corasick automaton compiled to a dense DFA over byte
// classes (only the bytes that occur in the patterns get their own
// column), so scanning costs one table lookup per input byte whatever the
// number of patterns.
type acMatcher struct {
	classes [256]uint16
	nclass  int
	trans   []int32 // state*nclass + class -> next state
	// next is trans with each target premultiplied by nclass (a row
	// offset) and acOut set when the target state has outputs: the scan
	// loop then needs one load per byte and no multiplication.
	next     []uint32
	outStart []int32 // state -> first index in outIDs (len = states+1)
	outIDs   []int32 // pattern ids ending at each state, via failure links too
}

// newACMatcher builds the automaton for patterns (already lowercased), or
// returns nil when it would be too large to index with 31 bits.
func newACMatcher(patterns []string) *acMatcher {
	m := &acMatcher{}
	// Byte classes: class 0 is every byte absent from the patterns.
	for _, p := range patterns {
		for i := 0; i < len(p); i++ {
			if m.classes[p[i]] == 0 {
				m.nclass++
				m.classes[p[i]] = uint16(m.nclass)
			}
		}
	}
	m.nclass++
	// Trie with sparse children during construction.
	type trieNode struct {
		next map[uint16]int32
		out  []int32
		fail int32
	}
	nodes := []trieNode{{next: map[uint16]int32{}}}
	for id, p := range patterns {
		s := int32(0)
		for i := 0; i < len(p); i++ {
			c := m.classes[p[i]]
			nx, ok := nodes[s].next[c]
			if !ok {
				nx = int32(len(nodes))
				nodes = append(nodes, trieNode{next: map[uint16]int32{}})
				nodes[s].next[c] = nx
			}
			s = nx
		}
		nodes[s].out = append(nodes[s].out, int32(id))
	}
	n := len(nodes)
	if uint64(n)*uint64(m.nclass) >= acOut {
		// Row offsets would not fit in 31 bits: callers fall back to
		// testing the values one by one.
		return nil
	}
	m.trans = make([]int32, n*m.nclass)
	// Breadth-first: a state's failure target is always finished before it.
	queue := make([]int32, 0, n)
	for c := 0; c < m.nclass; c++ {
		if nx, ok := nodes[0].next[uint16(c)]; ok {
			m.trans[c] = nx
			nodes[nx].fail = 0
			queue = append(queue, nx)
		}
	}
	for qi := 0; qi < len(queue); qi++ {
		s := queue[qi]
		f := nodes[s].fail
		nodes[s].out = append(nodes[s].out, nodes[f].out...)
		for c := 0; c < m.nclass; c++ {
			if nx, ok := nodes[s].next[uint16(c)]; ok {
				nodes[nx].fail = m.trans[int(f)*m.nclass+c]
				m.trans[int(s)*m.nclass+c] = nx
				queue = append(queue, nx)
			} else {
				m.trans[int(s)*m.nclass+c] = m.trans[int(f)*m.nclass+c]
			}
		}
	}
	m.outStart = make([]int32, n+1)
	for i := range nodes {
		m.outStart[i] = int32(len(m.outIDs))
		m.outIDs = append(m.outIDs, nodes[i].out...)
	}
	m.outStart[n] = int32(len(m.outIDs))
	m.next = make([]uint32, len(m.trans))
	for i, t := range m.trans {
		v := uint32(t) * uint32(m.nclass)
		if m.outStart[t] != m.outStart[t+1] {
			v |= acOut
		}
		m.next[i] = v
	}
	m.trans = nil // only needed while building
	return m
}

const acOut = 1 << 31

// scan calls hit for every pattern occurrence in s (a pattern may be
// reported more than once).
func (m *acMatcher) scan(s string, hit func(id int32)) {
	var off uint32
	nc := uint32(m.nclass)
	for i := 0; i < len(s); i++ {
		v := m.next[off+uint32(m.classes[s[i]])]
		off = v &^ acOut
		if v&acOut != 0 {
			state := off / nc
			for _, id := range m.outIDs[m.outStart[state]:m.outStart[state+1]] {
				hit(id)
			}
		}
	}
}

// any reports whether any pattern occurs in s.
func (m *acMatcher) any(s string) bool {
	var off uint32
	for i := 0; i < len(s); i++ {
		v := m.next[off+uint32(m.classes[s[i]])]
		if v&acOut != 0 {
			return true
		}
		off = v
	}
	return false
}
