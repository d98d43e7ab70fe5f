package normalize

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// record is the state of one normalization: the parsed raw record, the
// results of the reference's parsing stages, and the document being built.
type record struct {
	root     *jsonValue
	props    *propIndex // properties by name; empty when properties is not an object
	hasProps bool
	category string    // "AdvancedHunting-DeviceProcessEvents"
	table    string    // "DeviceProcessEvents"
	info     tableInfo // zero for a table without a mapping of its own
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
// The converted value is kept: some properties (RawEventData, command
// lines) are read several times per record.
func (r *record) p(id propID) any {
	x := r.props
	if x.slots[id].gen != x.gen {
		return undef
	}
	c := &x.converted[id]
	if c.gen != x.gen {
		c.gen, c.value = x.gen, fromJSON(x.slots[id].v)
	}
	return c.value
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

// setConst stores a shared constant value as it is.
func (r *record) setConst(path string, v any) { r.doc.put(path, v) }

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
	} else if f.keepsEmpty {
		if out, ok := emptyContainer(f.kind, v); ok {
			r.doc.putField(f, out)
		}
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
func (r *record) copy(path string, id propID) { r.copyValue(path, r.props.get(id)) }

// copyTop is copy for a key of the record itself (beside properties).
func (r *record) copyTop(path, key string) { r.copyValue(path, r.root.get(key)) }

// copyValue is set(path, fromJSON(v)) done as copy describes.
func (r *record) copyValue(path string, v *jsonValue) {
	if v == nil {
		return
	}
	switch v.Type() {
	case jsonNull:
		return
	case jsonNumber:
		f := r.doc.field(path)
		if f.kind == kLong || f.kind == kKeyword || f.kind == kNumber {
			if n, ok := r.intValue(v); ok {
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
	case jsonObject:
		// An object in a text field is stored as compact JSON with sorted
		// keys; written straight from the parsed record, not converted.
		if f := r.doc.field(path); f.kind == kKeyword && len(v.members()) > 0 {
			start := len(r.scratch)
			r.scratch = r.appendSortedJSON(r.scratch, v)
			r.doc.putString(f, b2s(r.scratch[start:]))
			return
		}
	case jsonString:
		s := v.text()
		if s == "" || s == "$" {
			return
		}
		if nv, changed := nativeText(s); changed {
			r.store(path, nv)
			return
		}
		// The text stays text: stored unboxed in the field types most
		// text goes to (store would convert it to the same).
		switch f := r.doc.field(path); f.kind {
		case kKeyword:
			if v.clean {
				r.doc.putCleanString(f, s)
			} else {
				r.doc.putString(f, s)
			}
			return
		case kDate:
			if t, ok := parseTime(s); ok {
				r.doc.putTime(f, t)
			}
			return
		}
		r.store(path, s)
		return
	}
	r.set(path, fromJSON(v))
}

// propAttr is attr(r.p(id), key) without converting the whole property
// when it is an object (RawEventData is large and few of its keys are
// read): only the value of the key is converted.
func (r *record) propAttr(id propID, key string) any {
	if v := r.props.get(id); v != nil && v.Type() == jsonObject {
		return lazyObject{v}.get(key)
	}
	return attr(r.p(id), key)
}

// objectProp returns a property that is a non-empty JSON object, to be
// read with attr, without converting it.
func (r *record) objectProp(id propID) (lazyObject, bool) {
	if v := r.props.get(id); v != nil && v.Type() == jsonObject && len(v.members()) > 0 {
		return lazyObject{v}, true
	}
	return lazyObject{}, false
}

// text returns a property when it is a string, without boxing it ("" and
// false otherwise).
func (r *record) text(id propID) (string, bool) {
	v := r.props.get(id)
	if v == nil || v.Type() != jsonString {
		return "", false
	}
	return v.text(), true
}

// has tells whether a property is present and not null (the reference's
// `x != None`, which a missing key also passes in Jinja, is written out
// where it matters).
func (r *record) has(id propID) bool {
	v := r.props.get(id)
	return v != nil && v.Type() != jsonNull
}

// length is Jinja's `length` of a property, without converting it (ok is
// false where Python raises: numbers, booleans, None).
func (r *record) length(id propID) (int, bool) {
	v := r.props.get(id)
	if v == nil {
		return 0, true // undefined has length 0
	}
	switch v.Type() {
	case jsonString:
		return utf8.RuneCountInString(v.text()), true
	case jsonArray:
		return len(v.items()), true
	case jsonObject:
		return len(v.members()), true
	}
	return 0, false
}

// truthyProp is Python truthiness of a property, without converting it.
func (r *record) truthyProp(id propID) bool { return truthyValue(r.props.get(id)) }

// truthyValue is Python truthiness of a parsed value (false when nil).
func truthyValue(v *jsonValue) bool {
	if v == nil {
		return false
	}
	switch v.Type() {
	case jsonNull, jsonFalse:
		return false
	case jsonString:
		return len(v.text()) > 0
	case jsonNumber:
		return v.float() != 0
	case jsonArray:
		return len(v.items()) > 0
	case jsonObject:
		return len(v.members()) > 0
	}
	return true
}

// copyOr is set(path, a or b): the first truthy property is copied.
func (r *record) copyOr(path string, a, b propID) {
	if r.truthyProp(a) {
		r.copy(path, a)
		return
	}
	r.copy(path, b)
}

// copyOrTop is set(path, record.key or properties.id): a few keys may
// sit beside the properties in some exports.
func (r *record) copyOrTop(path, key string, id propID) {
	if v := r.root.get(key); truthyValue(v) {
		r.copyValue(path, v)
		return
	}
	r.copy(path, id)
}

// copyText is set(path, fn(property)) for text properties, such as
// basename and dirname; other values are set as they are.
func (r *record) copyText(path string, id propID, fn func(string) string) {
	s, ok := r.text(id)
	if !ok {
		r.set(path, r.p(id))
		return
	}
	s = fn(s)
	if s == "" || s == "$" {
		return
	}
	if f := r.doc.field(path); f.kind == kKeyword && !mayBeLiteral(s[0]) {
		r.doc.putString(f, s)
		return
	}
	r.set(path, s)
}

// actionType is the ActionType property ("" when absent or not text).
func (r *record) actionType() string {
	s, _ := r.text(pActionType)
	return s
}

// intValue returns a JSON number written as an integer (a number with a
// fraction or an exponent is a float, even when integral, as in Python).
func (r *record) intValue(v *jsonValue) (int64, bool) {
	text := v.text()
	if len(text) == 0 || len(text) > 18 || strings.ContainsAny(text, ".eE") {
		return 0, false
	}
	var n int64
	neg := text[0] == '-'
	if neg {
		text = text[1:]
	}
	for _, c := range text {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// setProps copies properties to action.properties.<name> one for one.
func (r *record) setProps(m propMap) {
	for _, e := range m {
		r.copy(e.path, e.prop)
	}
}

// basename and dirname follow Windows path rules when the path holds a
// backslash or a drive letter, POSIX rules otherwise.
func basename(s string) string {
	_, tail := splitPathname(s)
	return tail
}

func dirname(s string) string {
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
