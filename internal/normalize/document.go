package normalize

import (
	"math/bits"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// document is the ECS document being built: dotted paths to stored values,
// written out as nested JSON objects with sorted keys.
//
// Records map to a few dozen of a few hundred possible paths, so every path
// is registered once in a field table (with its type, its segments and its
// rank in sorted order) and a document is an array of slots indexed by
// field. Storing a value costs one table lookup; writing the document sorts
// small integers instead of strings, and nothing is cleared between
// records: slots carry the number of the document they belong to.
type document struct {
	fields    *strTable // path -> field id
	prefixIDs *strTable // object path ("process.parent") -> number
	byRank    []*field  // all fields in sorted path order
	byID      []*field
	rank      []int32 // sort rank by field id
	slots     []slot  // by field id
	present   []int32 // ids of the fields set in this document, unsorted
	gen       uint32
	written   []writtenString  // long strings already escaped into the output
	recent    [1024]recentPath // field ids by the address of their path text
	marks     []uint64         // inRankOrder's bitmap, all zero between calls
	order     []*field         // inRankOrder's result
	lists     []string         // backing of the text lists of this document
}

// recentPath remembers the field of a path string by the address of its
// bytes. The mapping passes the same literal paths again and again, so most
// lookups are answered by comparing an address instead of hashing text.
// The entry keeps its string alive, so no other string can take that
// address while the entry stands: a match is always the same text.
type recentPath struct {
	path string
	id   int32
}

// writtenString is where a string's escaped form sits in the output. A
// record's text often lands in several fields (a command line, a path),
// all pointing at the same bytes of the record: those are escaped once and
// then copied.
type writtenString struct {
	data       *byte
	size       int
	start, end int
}

// field is one possible path of a document.
type field struct {
	id   int32
	rank int32 // position of path among all registered paths, sorted
	path string
	segs []string
	keys [][]byte // each segment as a JSON key: `"seg":`
	// prefixes numbers the objects the field sits in ("process",
	// "process.parent" for process.parent.pid), so that writing compares
	// numbers, not text, to know which objects to open and close.
	prefixes []int32
	kind     kind
	// keepsEmpty: an empty list or object is stored, not dropped.
	keepsEmpty bool
}

// slot holds a field's value. Text, integers and times are kept unboxed
// (boxing them in value would cost an allocation per field).
type slot struct {
	gen   uint32
	typ   slotType
	str   string
	n     int64
	t     time.Time
	strs  []string
	value any
}

type slotType uint8

const (
	slotAny slotType = iota
	slotStr
	slotCleanStr // text with nothing to escape in JSON, written as it is
	slotInt
	slotTime
	slotStrs
)

// get returns the slot's value as an interface.
func (s *slot) get() any {
	switch s.typ {
	case slotStr, slotCleanStr:
		return s.str
	case slotInt:
		return s.n
	case slotTime:
		return formatTime(s.t)
	case slotStrs:
		return s.strs
	}
	return s.value
}

func (s *slot) appendJSON(dst []byte) []byte {
	switch s.typ {
	case slotStr:
		return appendString(dst, s.str)
	case slotCleanStr:
		dst = append(dst, '"')
		dst = append(dst, s.str...)
		return append(dst, '"')
	case slotInt:
		return strconv.AppendInt(dst, s.n, 10)
	case slotTime:
		dst = append(dst, '"')
		dst = appendTime(dst, s.t)
		return append(dst, '"')
	case slotStrs:
		dst = append(dst, '[')
		for i, it := range s.strs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, it)
		}
		return append(dst, ']')
	}
	return appendValue(dst, s.value)
}

func newDocument() *document {
	d := &document{fields: newStrTable(512), prefixIDs: newStrTable(128)}
	for p := range fieldKinds {
		d.register(p)
	}
	return d
}

// register adds a path to the field table and ranks all fields again.
// Paths are static in the mapping, so this happens a few hundred times per
// Normalizer; a bounded number of extra paths (from callers) is allowed.
func (d *document) register(path string) *field {
	path = strings.Clone(path)
	f := &field{id: int32(len(d.slots)), path: path, segs: strings.Split(path, "."), kind: kindOf(path),
		keepsEmpty: keepsEmptyContainers(path)}
	for i, seg := range f.segs {
		f.keys = append(f.keys, append(appendString(nil, seg), ':'))
		if i < len(f.segs)-1 {
			prefix := strings.Join(f.segs[:i+1], ".")
			id, ok := d.prefixIDs.get(prefix)
			if !ok {
				id = int32(d.prefixIDs.n + 1)
				d.prefixIDs.put(prefix, id)
			}
			f.prefixes = append(f.prefixes, id)
		}
	}
	d.fields.put(path, f.id)
	d.slots = append(d.slots, slot{})
	d.byID = append(d.byID, f)
	d.rank = append(d.rank, 0)
	d.byRank = append(d.byRank, f)
	sort.Slice(d.byRank, func(i, j int) bool { return d.byRank[i].path < d.byRank[j].path })
	for i, g := range d.byRank {
		g.rank = int32(i)
		d.rank[g.id] = int32(i)
	}
	return f
}

func (d *document) field(path string) *field {
	if id, ok := d.fieldID(path); ok {
		return d.byID[id]
	}
	return d.register(path)
}

// fieldID finds the id of a registered path.
func (d *document) fieldID(path string) (int32, bool) {
	p := unsafe.StringData(path)
	// Two places per address, the most recent first, so that two hot
	// paths whose addresses meet do not evict each other on every record.
	set := d.recent[(uint64(uintptr(unsafe.Pointer(p)))*0x9E3779B97F4A7C15)>>55*2:][:2]
	for i := range set {
		if unsafe.StringData(set[i].path) == p && len(set[i].path) == len(path) && p != nil {
			return set[i].id, true
		}
	}
	id, ok := d.fields.get(path)
	if ok {
		set[1] = set[0]
		set[0] = recentPath{path, id}
	}
	return id, ok
}

func (d *document) reset() {
	// Drop the values so they can be collected; the slots' generation
	// already hides them.
	for _, id := range d.present {
		d.slots[id].value, d.slots[id].str, d.slots[id].strs = nil, "", nil
	}
	clear(d.lists)
	d.lists = d.lists[:0]
	d.present = d.present[:0]
	d.gen++
}

func (d *document) lookup(path string) (*slot, bool) {
	id, ok := d.fieldID(path)
	if !ok {
		return nil, false
	}
	s := &d.slots[id]
	return s, s.gen == d.gen
}

func (d *document) get(path string) any {
	if s, ok := d.lookup(path); ok {
		return s.get()
	}
	return undef
}

func (d *document) has(path string) bool {
	_, ok := d.lookup(path)
	return ok
}

// put stores an already converted value.
func (d *document) put(path string, v any) { d.putField(d.field(path), v) }

func (d *document) putField(f *field, v any) {
	s := d.use(f)
	switch x := v.(type) {
	case string:
		s.typ, s.str, s.value = slotStr, x, nil
	case int64:
		s.typ, s.n, s.value = slotInt, x, nil
	default:
		s.typ, s.value = slotAny, v
	}
}

// putText is put for text, without boxing it.
func (d *document) putText(path, v string) { d.putString(d.field(path), v) }

// putString stores text without boxing it.
func (d *document) putString(f *field, v string) {
	s := d.use(f)
	s.typ, s.str, s.value = slotStr, v, nil
}

// putCleanString stores text known to need no escaping in JSON (see
// jsonValue.clean), so that it is written as it is.
func (d *document) putCleanString(f *field, v string) {
	s := d.use(f)
	s.typ, s.str, s.value = slotCleanStr, v, nil
}

// putStrings stores a list of text without boxing it; the list must stay
// unchanged until the document is reset.
func (d *document) putStrings(f *field, v []string) {
	s := d.use(f)
	s.typ, s.strs, s.value = slotStrs, v, nil
}

// putInt stores an integer without boxing it.
func (d *document) putInt(f *field, n int64) {
	s := d.use(f)
	s.typ, s.n, s.value = slotInt, n, nil
}

// putTime stores a time, written with microseconds in UTC.
func (d *document) putTime(f *field, t time.Time) {
	s := d.use(f)
	s.typ, s.t, s.value = slotTime, t, nil
}

func (d *document) use(f *field) *slot {
	s := &d.slots[f.id]
	if s.gen != d.gen {
		s.gen = d.gen
		d.present = append(d.present, f.id)
	}
	return s
}

func (d *document) del(path string) {
	s, ok := d.lookup(path)
	if !ok {
		return
	}
	s.gen = d.gen - 1
	s.value, s.str = nil, ""
	id, _ := d.fields.get(path)
	for i, p := range d.present {
		if p == id {
			d.present = append(d.present[:i], d.present[i+1:]...)
			break
		}
	}
}

// str returns a field's value when it is a non-empty string.
func (d *document) str(path string) (string, bool) {
	s, ok := d.lookup(path)
	if !ok {
		return "", false
	}
	if s.typ != slotStr && s.typ != slotCleanStr {
		if v, ok := s.value.(string); ok { // not stored by put, but harmless
			return v, v != ""
		}
		return "", false
	}
	return s.str, s.str != ""
}

// inRankOrder returns the present fields in sorted path order: their ranks
// are marked in a bitmap (a few words for all known fields), which is then
// read in order; cheaper than sorting a few dozen fields per document.
func (d *document) inRankOrder() []*field {
	words := (len(d.byRank) + 63) / 64
	if cap(d.marks) < words {
		d.marks = make([]uint64, words)
	}
	marks := d.marks[:words]
	for _, id := range d.present {
		r := d.rank[id]
		marks[r/64] |= 1 << (r % 64)
	}
	order := d.order[:0]
	for w, bitsSet := range marks {
		for bitsSet != 0 {
			b := bits.TrailingZeros64(bitsSet)
			bitsSet &= bitsSet - 1
			order = append(order, d.byRank[w*64+b])
		}
		marks[w] = 0
	}
	d.order = order
	return order
}

// appendStringOnce writes s as a JSON string, copying the escaped form of
// the same string (same bytes in memory) if it was written already.
func (d *document) appendStringOnce(dst []byte, s string) []byte {
	data := unsafe.StringData(s)
	for _, w := range d.written {
		if w.data == data && w.size == len(s) {
			return append(dst, dst[w.start:w.end]...)
		}
	}
	start := len(dst)
	dst = appendString(dst, s)
	if len(d.written) < 32 {
		d.written = append(d.written, writtenString{data, len(s), start, len(dst)})
	}
	return dst
}

// appendJSON writes the document as one JSON object. Paths sharing a
// prefix are adjacent in sorted order, so one pass opens and closes the
// nested objects.
func (d *document) appendJSON(dst []byte) []byte {
	d.written = d.written[:0]
	order := d.inRankOrder()
	var openBuf [8]int32
	var firstBuf [9]bool
	open := openBuf[:0]   // numbers of the objects currently open
	first := firstBuf[:1] // per open object: no member written yet
	first[0] = true
	dst = append(dst, '{')
	for _, f := range order {
		segs := f.segs
		common := 0
		for common < len(open) && common < len(segs)-1 && open[common] == f.prefixes[common] {
			common++
		}
		for len(open) > common {
			dst = append(dst, '}')
			open = open[:len(open)-1]
			first = first[:len(first)-1]
		}
		for i := len(open); i < len(segs)-1; i++ {
			if !first[len(first)-1] {
				dst = append(dst, ',')
			}
			first[len(first)-1] = false
			dst = append(dst, f.keys[i]...)
			dst = append(dst, '{')
			open = append(open, f.prefixes[i])
			first = append(first, true)
		}
		if !first[len(first)-1] {
			dst = append(dst, ',')
		}
		first[len(first)-1] = false
		dst = append(dst, f.keys[len(segs)-1]...)
		if s := &d.slots[f.id]; s.typ == slotStr && len(s.str) >= 16 {
			dst = d.appendStringOnce(dst, s.str)
		} else {
			dst = s.appendJSON(dst)
		}
	}
	for range open {
		dst = append(dst, '}')
	}
	return append(dst, '}')
}
