package normalize

import (
	"math"
	"strconv"
	"strings"
	"unsafe"
)

// The reference evaluates its mapping with Python semantics (Jinja
// templates over json.loads values). Values are therefore modelled as
// Python's: nil is None, and these types stand for the rest.
type (
	// undefined is a missing key (Jinja's Undefined): falsy, renders as "".
	undefined struct{}
	// bigInt is an integer that does not fit in int64, kept as its digits.
	bigInt string
	// dict is a JSON object / Python dict, keeping key order.
	dict struct {
		keys []string
		vals []any
	}
	// tuple and set only come out of literal evaluation; they are never
	// stored in a document.
	tuple []any
	set   []any
)

var undef = undefined{}

func (d *dict) get(key string) any {
	for i := len(d.keys) - 1; i >= 0; i-- {
		if d.keys[i] == key {
			return d.vals[i]
		}
	}
	return undef
}

func (d *dict) put(key string, v any) {
	for i, k := range d.keys {
		if k == key {
			d.vals[i] = v
			return
		}
	}
	d.keys = append(d.keys, key)
	d.vals = append(d.vals, v)
}

// lazyObject is a parsed JSON object converted key by key on demand: the
// objects decoded from text (AdditionalFields, RawEventData.Data) are large
// and the mapping reads few of their keys.
type lazyObject struct{ v *jsonValue }

// get returns the value of the last key named key (the last duplicate wins,
// as in json.loads), converted.
func (o lazyObject) get(key string) any {
	var found *jsonValue
	for _, m := range o.v.members() {
		if m.key == key {
			found = m.val
		}
	}
	return fromJSON(found)
}

// attr is Jinja's attribute/item access: a key of a dict, else undefined.
func attr(v any, key string) any {
	switch x := v.(type) {
	case *dict:
		return x.get(key)
	case lazyObject:
		return x.get(key)
	}
	return undef
}

// b2s views b as a string without copying. The normalizer only uses it on
// the parser's buffer, which outlives the document being built.
func b2s(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// fromJSON converts a parsed JSON value to the Python model.
func fromJSON(v *jsonValue) any {
	if v == nil {
		return undef
	}
	return convertJSON(v, true)
}

// fromJSONDetached is fromJSON for a value whose parser is reused right
// after: its strings are boxed on their own, not in the parser's slots.
func fromJSONDetached(v *jsonValue) any {
	return convertJSON(v, false)
}

// convertJSON converts v; inSlots boxes its strings in the parser's value
// slots (see stringAt).
func convertJSON(v *jsonValue, inSlots bool) any {
	switch v.Type() {
	case jsonNull:
		return nil
	case jsonTrue:
		return true
	case jsonFalse:
		return false
	case jsonString:
		if !inSlots {
			return v.text()
		}
		return stringAt(&v.s)
	case jsonNumber:
		return parseNumber(v.text())
	case jsonArray:
		items := v.items()
		list, out := newList(len(items))
		for i, it := range items {
			out[i] = convertJSON(it, inSlots)
		}
		return list
	case jsonObject:
		members := v.members()
		d := newDict(len(members))
		var index map[string]int // for large objects, to keep duplicates out cheaply
		if len(members) > 16 {
			index = make(map[string]int, len(members))
		}
		for _, m := range members {
			if index == nil {
				d.put(m.key, convertJSON(m.val, inSlots)) // the last duplicate wins, as in json.loads
				continue
			}
			if i, dup := index[m.key]; dup {
				d.vals[i] = convertJSON(m.val, inSlots)
				continue
			}
			index[m.key] = len(d.keys)
			d.keys = append(d.keys, m.key)
			d.vals = append(d.vals, convertJSON(m.val, inSlots))
		}
		return d
	}
	return undef
}

// parseNumber turns JSON number text into int64, bigInt or float64, as
// json.loads does (an integer literal stays an integer of any size).
func parseNumber(s string) any {
	if !strings.ContainsAny(s, ".eE") {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
		return bigInt(strings.Clone(s))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(f, 0) {
		return undef
	}
	return f
}

// truthy is Python truthiness.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil, undefined:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case bigInt:
		return true
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case *dict:
		return len(x.keys) > 0
	}
	return true
}

// or is Python's `a or b`.
func or(a, b any) any {
	if truthy(a) {
		return a
	}
	return b
}

// length is Jinja's `length` filter; ok is false where Python raises.
func length(v any) (int, bool) {
	switch x := v.(type) {
	case undefined:
		return 0, true
	case string:
		return len([]rune(x)), true
	case []any:
		return len(x), true
	case *dict:
		return len(x.keys), true
	}
	return 0, false
}

// isNone is Jinja's `x == None`: only None is None; an undefined value is
// not equal to None (so `missing != null` holds, as in the reference).
func isNone(v any) bool { return v == nil }

// str is Python's str() as Jinja renders a value into text.
func str(v any) string {
	switch x := v.(type) {
	case undefined:
		return ""
	case string:
		return x
	}
	var b strings.Builder
	writeRepr(&b, v)
	return b.String()
}

// writeRepr writes Python's repr() of v (str() for the top level is the
// same except for strings, handled by str).
func writeRepr(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case undefined:
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case bigInt:
		b.WriteString(string(x))
	case float64:
		b.WriteString(pyFloat(x))
	case string:
		b.WriteString(pyQuote(x))
	case []any:
		b.WriteByte('[')
		for i, it := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, it)
		}
		b.WriteByte(']')
	case *dict:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pyQuote(k))
			b.WriteString(": ")
			writeRepr(b, x.vals[i])
		}
		b.WriteByte('}')
	}
}

// pyQuote is Python's repr() of a str: single quotes unless the text holds
// a single quote and no double quote.
func pyQuote(s string) string {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteByte(q)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatInt(int64(r)+0x100, 16)[1:])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// pyFloat is Python's repr() of a float: shortest round-trip digits, fixed
// notation for exponents in [-4, 16), ".0" on integral values.
func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp >= -4 && exp < 16 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.ContainsAny(s, ".") {
			s += ".0"
		}
		return s
	}
	mant := e[:strings.IndexByte(e, 'e')]
	sign := "+"
	if exp < 0 {
		sign = "-"
		exp = -exp
	}
	es := strconv.Itoa(exp)
	if len(es) < 2 {
		es = "0" + es
	}
	return mant + "e" + sign + es
}
