package normalize

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
)

// record is the state of one normalization: the parsed raw record, the
// results of the reference's parsing stages, and the document being built.
type record struct {
	root     *fastjson.Value
	props    *propIndex // properties by name; empty when properties is not an object
	hasProps bool
	category string // "AdvancedHunting-DeviceProcessEvents"
	table    string // "DeviceProcessEvents"
	doc      *document

	// scratch holds text made while mapping (numbers written as
	// keywords); strings stored in the document may point into it.
	scratch []byte

	// Results of the parsing stages; undef when the stage did not run.
	fields   any // AdditionalFields, parsed (parse_additional_fields)
	users    any // LoggedOnUsers, parsed (DeviceInfo)
	rawData  any // RawEventData.Data, parsed
	authData any // AuthenticationDetails, parsed
}

// p returns a property (undef when absent, nil when JSON null).
func (r *record) p(id propID) any {
	return fromJSON(r.props.get(id))
}

// propID numbers a property name the mapping reads.
type propID int

// propIDs and propNamesByID are filled at package initialization by
// propName and only read afterwards.
var (
	propIDs       = map[string]propID{}
	propNamesByID []string
)

// propName registers a property the mapping reads and returns its number.
func propName(name string) propID {
	if id, ok := propIDs[name]; ok {
		return id
	}
	id := propID(len(propNamesByID))
	propIDs[name] = id
	propNamesByID = append(propNamesByID, name)
	return id
}

// propIndex holds one record's properties by number. Slots carry the
// number of the record they belong to, so that the index is reused from
// record to record without being cleared.
type propIndex struct {
	slots []propSlot
	gen   uint64
}

type propSlot struct {
	gen uint64
	v   *fastjson.Value
}

func newPropIndex() *propIndex { return &propIndex{slots: make([]propSlot, len(propNamesByID))} }

// next starts a new record.
func (x *propIndex) next() { x.gen++ }

// add indexes a property of the record; properties the mapping never
// reads are ignored.
func (x *propIndex) add(name []byte, v *fastjson.Value) {
	if id, ok := propIDs[b2s(name)]; ok {
		x.slots[id] = propSlot{gen: x.gen, v: v}
	}
}

// get returns the property, or nil when the record has none of that name.
func (x *propIndex) get(id propID) *fastjson.Value {
	if s := x.slots[id]; s.gen == x.gen {
		return s.v
	}
	return nil
}

// top returns a key of the record itself (beside properties).
func (r *record) top(name string) any {
	return fromJSON(r.root.Get(name))
}

// set is the reference's `set` of a single-expression template: the
// value, made native (text holding a literal becomes that literal), is
// converted to the field's type and stored. An empty or unfit value leaves
// the field as it was.
func (r *record) set(path string, v any) {
	r.store(path, native(v))
}

// setText is the reference's `set` of a template mixing text and
// expressions: the rendered text goes through literal evaluation as a whole.
func (r *record) setText(path, text string) {
	if v, ok := nativeText(text); ok {
		r.store(path, v)
		return
	}
	r.store(path, text)
}

// setValue stores a constant or computed value without literal evaluation.
func (r *record) setValue(path string, v any) { r.store(path, v) }

func (r *record) store(path string, v any) {
	switch x := v.(type) {
	case nil, undefined:
		return
	case string:
		if x == "" {
			return
		}
	}
	f := r.doc.field(path)
	if out, ok := convert(f.kind, v); ok {
		r.doc.putField(f, out)
	}
}

// propMap pairs properties with the action.properties.<name> fields they
// are copied to; built once so that no path is concatenated per record.
type propMap []struct {
	prop propID
	path string
}

func props(names ...string) propMap {
	m := make(propMap, len(names))
	for i, n := range names {
		m[i].prop, m[i].path = propName(n), "action.properties."+n
	}
	return m
}

// copy is set(path, r.p(id)) without the Python value model on the
// common path: text that cannot be a literal goes to a keyword field as it
// is, an integer to an integer field, with no allocation.
func (r *record) copy(path string, id propID) {
	v := r.props.get(id)
	if v == nil {
		return
	}
	switch v.Type() {
	case fastjson.TypeNull:
		return
	case fastjson.TypeNumber:
		f := r.doc.field(path)
		if f.kind == kLong || f.kind == kKeyword || f.kind == kNumber {
			if n, err := v.Int64(); err == nil && !isFloatText(v) {
				if f.kind == kKeyword {
					// The digits as written: a view of a per-record buffer.
					start := len(r.scratch)
					r.scratch = strconv.AppendInt(r.scratch, n, 10)
					r.doc.putString(f, b2s(r.scratch[start:]))
				} else {
					r.doc.putInt(f, n)
				}
				return
			}
		}
	case fastjson.TypeString:
		b := v.GetStringBytes()
		if len(b) == 0 || len(b) == 1 && b[0] == '$' {
			return
		}
		if !mayBeLiteral(b[0]) {
			f := r.doc.field(path)
			if f.kind == kKeyword {
				r.doc.putString(f, b2s(b))
				return
			}
		}
	}
	r.set(path, fromJSON(v))
}

// isFloatText tells whether a JSON number was written with a fraction or
// an exponent (then it is a float, even when integral, as in Python).
func isFloatText(v *fastjson.Value) bool {
	var scratch [32]byte
	return bytes.ContainsAny(v.MarshalTo(scratch[:0]), ".eE")
}

// setProps copies properties to action.properties.<name> one for one.
func (r *record) setProps(m propMap) {
	for _, e := range m {
		r.copy(e.path, e.prop)
	}
}

// isIP is the reference's is_ipaddress filter.
func isIP(v any) bool {
	s, ok := v.(string)
	return ok && validIP(s)
}

// basename and dirname follow Windows path rules when the path holds a
// backslash or a drive letter, POSIX rules otherwise.
func basename(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	_, tail := splitPathname(s)
	return tail
}

func dirname(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	head, _ := splitPathname(s)
	return head
}

func isWindowsPath(s string) bool {
	return strings.IndexByte(s, '\\') >= 0 || len(s) >= 2 && s[1] == ':' && isLetter(s[0])
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// splitPathname is Python's os.path.split for the path's flavour.
func splitPathname(p string) (head, tail string) {
	if !isWindowsPath(p) {
		i := strings.LastIndexByte(p, '/') + 1
		head, tail = p[:i], p[i:]
		if head != "" && strings.Trim(head, "/") != "" {
			head = strings.TrimRight(head, "/")
		}
		return head, tail
	}
	drive, rest := splitDrive(p)
	i := len(rest)
	for i > 0 && rest[i-1] != '/' && rest[i-1] != '\\' {
		i--
	}
	head, tail = rest[:i], rest[i:]
	if trimmed := strings.TrimRight(head, `/\`); trimmed != "" {
		head = trimmed
	}
	return drive + head, tail
}

// splitDrive separates a drive ("C:") or a UNC share ("\\server\share").
func splitDrive(p string) (drive, rest string) {
	if len(p) >= 2 && p[1] == ':' && isLetter(p[0]) {
		return p[:2], p[2:]
	}
	norm := strings.ReplaceAll(p, "/", `\`)
	if strings.HasPrefix(norm, `\\`) && !strings.HasPrefix(norm, `\\\`) {
		i := strings.IndexByte(norm[2:], '\\')
		if i < 0 {
			return p, ""
		}
		i += 2
		j := strings.IndexByte(norm[i+1:], '\\')
		if j < 0 {
			return p, ""
		}
		j += i + 1
		return p[:j], p[j:]
	}
	return "", p
}
