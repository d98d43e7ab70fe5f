package normalize

import "unsafe"

// Allocation helpers of convertJSON: the values converted from JSON held
// in text are most of a record's allocations.

// stringAt is *p as an interface value whose data is p itself, where
// any(*p) would copy the string header to a new heap allocation (a quarter
// of the allocations of a record with JSON inside a string were these).
// The interface shares the lifetime of *p: the converted values of a
// parsed value are already views of the parser's text, valid until the
// parser parses again, and *p (a parser's value slot) lives as long.
// Nothing writes *p while they are used.
func stringAt(p *string) any {
	var x any = ""
	(*[2]unsafe.Pointer)(unsafe.Pointer(&x))[1] = unsafe.Pointer(p)
	return x
}

// newList returns a list of n items, as an interface value and as the
// slice to fill. Up to 8 items, the items and the slice header that the
// interface points to are one allocation instead of two.
func newList(n int) (list any, items []any) {
	switch {
	case n <= 2:
		b := new(struct {
			hdr   []any
			items [2]any
		})
		b.hdr = b.items[:n:n]
		return sliceAt(&b.hdr), b.hdr
	case n <= 8:
		b := new(struct {
			hdr   []any
			items [8]any
		})
		b.hdr = b.items[:n:n]
		return sliceAt(&b.hdr), b.hdr
	}
	items = make([]any, n)
	return items, items
}

// sliceAt is *p as an interface value whose data is p itself (as
// stringAt).
func sliceAt(p *[]any) any {
	var x any = []any(nil)
	(*[2]unsafe.Pointer)(unsafe.Pointer(&x))[1] = unsafe.Pointer(p)
	return x
}

// newDict returns an empty dict with room for n keys. Up to 16 keys, the
// dict and its two arrays are one allocation instead of three (objects
// decoded from text are converted by the dozen per record).
func newDict(n int) *dict {
	switch {
	case n <= 4:
		b := new(struct {
			d    dict
			keys [4]string
			vals [4]any
		})
		b.d.keys, b.d.vals = b.keys[:0:n], b.vals[:0:n]
		return &b.d
	case n <= 8:
		b := new(struct {
			d    dict
			keys [8]string
			vals [8]any
		})
		b.d.keys, b.d.vals = b.keys[:0:n], b.vals[:0:n]
		return &b.d
	case n <= 16:
		b := new(struct {
			d    dict
			keys [16]string
			vals [16]any
		})
		b.d.keys, b.d.vals = b.keys[:0:n], b.vals[:0:n]
		return &b.d
	}
	return &dict{keys: make([]string, 0, n), vals: make([]any, 0, n)}
}
