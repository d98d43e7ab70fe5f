package normalize

import (
	"slices"
	"strings"
)

// document is the ECS document being built: dotted paths to stored values.
// It is written out as nested JSON objects with sorted keys.
type document struct {
	fields map[string]any
	keys   []string
	// splits caches the segments of each path: the paths are few and
	// mostly static, so they are split once per Normalizer.
	splits map[string][]string
}

func newDocument() *document {
	return &document{fields: make(map[string]any, 128), splits: make(map[string][]string, 256)}
}

func (d *document) reset() { clear(d.fields) }

func (d *document) get(path string) any {
	if v, ok := d.fields[path]; ok {
		return v
	}
	return undef
}

func (d *document) has(path string) bool {
	_, ok := d.fields[path]
	return ok
}

// put stores an already converted value.
func (d *document) put(path string, v any) { d.fields[path] = v }

func (d *document) del(path string) { delete(d.fields, path) }

// str returns a field's value when it is a non-empty string.
func (d *document) str(path string) (string, bool) {
	s, ok := d.fields[path].(string)
	return s, ok && s != ""
}

// appendJSON writes the document as one JSON object.
func (d *document) appendJSON(dst []byte) []byte {
	d.keys = d.keys[:0]
	for k := range d.fields {
		d.keys = append(d.keys, k)
	}
	slices.Sort(d.keys)
	// open holds the path segments of the objects currently open; first
	// says, per open object, whether a member was written yet.
	var open []string
	first := []bool{true}
	dst = append(dst, '{')
	for _, key := range d.keys {
		segs := d.splitPath(key)
		// Close the objects that this key is not inside.
		common := 0
		for common < len(open) && common < len(segs)-1 && open[common] == segs[common] {
			common++
		}
		for len(open) > common {
			dst = append(dst, '}')
			open = open[:len(open)-1]
			first = first[:len(first)-1]
		}
		// Open the objects this key is inside.
		for _, seg := range segs[len(open) : len(segs)-1] {
			if !first[len(first)-1] {
				dst = append(dst, ',')
			}
			first[len(first)-1] = false
			dst = appendString(dst, seg)
			dst = append(dst, ':', '{')
			open = append(open, seg)
			first = append(first, true)
		}
		if !first[len(first)-1] {
			dst = append(dst, ',')
		}
		first[len(first)-1] = false
		dst = appendString(dst, segs[len(segs)-1])
		dst = append(dst, ':')
		dst = appendValue(dst, d.fields[key])
	}
	for range open {
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// splitPath splits a dotted path into its segments.
func (d *document) splitPath(p string) []string {
	if s, ok := d.splits[p]; ok {
		return s
	}
	if len(d.splits) >= 4096 {
		return strings.Split(p, ".")
	}
	c := strings.Clone(p)
	s := strings.Split(c, ".")
	d.splits[c] = s
	return s
}
