package normalize

// strTable maps strings to small integers. The normalizer looks up a few
// hundred known names (property names, field paths) about a hundred times
// per record; this open-addressing table with a cheap hash does that faster
// than a Go map, which must hash the whole string with a general function.
type strTable struct {
	keys []string
	vals []int32
	mask uint32
	n    int
}

func newStrTable(capacity int) *strTable {
	size := 64
	for size < capacity*2 {
		size *= 2
	}
	return &strTable{keys: make([]string, size), vals: make([]int32, size), mask: uint32(size - 1)}
}

// strHash mixes the length and three 8-byte words (start, middle, end):
// names that share a long prefix ("action.properties.Initiating...")
// differ in their middle or end.
func strHash(s string) uint32 {
	n := len(s)
	h := uint64(n) * 0x9E3779B97F4A7C15
	if n >= 8 {
		h ^= load64(s, 0)
		h = (h ^ h>>29) * 0xBF58476D1CE4E5B9
		h ^= load64(s, n/2-4)
		h = (h ^ h>>29) * 0xBF58476D1CE4E5B9
		h ^= load64(s, n-8)
	} else {
		for i := 0; i < n; i++ {
			h = h<<8 | uint64(s[i])
		}
	}
	h = (h ^ h>>32) * 0x94D049BB133111EB
	return uint32(h ^ h>>29)
}

// load64 reads 8 bytes of s as a little-endian word (the compiler turns
// this pattern into one load).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func (t *strTable) get(s string) (int32, bool) {
	if s == "" {
		return 0, false
	}
	for i := strHash(s) & t.mask; ; i = (i + 1) & t.mask {
		switch t.keys[i] {
		case s:
			return t.vals[i], true
		case "":
			return 0, false
		}
	}
}

// put adds or replaces s. Empty strings are not stored.
func (t *strTable) put(s string, v int32) {
	if s == "" {
		return
	}
	if (t.n+1)*2 > len(t.keys) {
		t.grow()
	}
	for i := strHash(s) & t.mask; ; i = (i + 1) & t.mask {
		switch t.keys[i] {
		case s:
			t.vals[i] = v
			return
		case "":
			t.keys[i], t.vals[i] = s, v
			t.n++
			return
		}
	}
}

func (t *strTable) grow() {
	old, oldVals := t.keys, t.vals
	*t = *newStrTable(len(old))
	for i, k := range old {
		if k != "" {
			t.put(k, oldVals[i])
		}
	}
}
