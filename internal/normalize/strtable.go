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

// strHash mixes the length and a few bytes: names differ early, late or
// in length, and a collision only costs one more comparison.
func strHash(s string) uint32 {
	n := len(s)
	if n == 0 {
		return 0
	}
	h := uint32(n) * 0x9E3779B1
	h ^= uint32(s[0]) | uint32(s[n-1])<<8 | uint32(s[n/2])<<16 | uint32(s[n*3/4])<<24
	h *= 0x85EBCA6B
	return h ^ h>>15
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
