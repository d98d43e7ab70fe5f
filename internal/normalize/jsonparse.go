package normalize

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The records are parsed by a JSON parser made for this package rather
// than a general one, for three things a general parser cannot give: it
// reads the record where it lies (no copy), it finds the end of a string
// and whether the string needs decoding in one pass, and it tells which
// strings are "clean" (nothing to escape when written back into JSON), so
// that the document writes those as they are. Its leniency follows the
// parser the mapping was first written against: numbers are read as runs
// of number characters (and inf, nan), escapes it does not know are kept.

// jsonType is the type of a parsed JSON value.
type jsonType uint8

const (
	jsonNull jsonType = iota
	jsonTrue
	jsonFalse
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

func (t jsonType) String() string {
	return [...]string{"null", "true", "false", "number", "string", "array", "object"}[t]
}

// jsonValue is one parsed value. Strings and numbers are views of the
// parsed text (strings with escapes, of the parser's decoded text); they
// stay valid until the parser parses again.
type jsonValue struct {
	t jsonType
	// clean is set on a string whose text needs no escaping in JSON: no
	// quote, backslash, control byte or non-ASCII byte.
	clean bool
	s     string       // string or number text
	a     []*jsonValue // array items
	kvs   []jsonMember // object members, in order
}

// jsonMember is a key and value of an object; the key is decoded.
type jsonMember struct {
	key string
	val *jsonValue
}

var (
	jsonNullValue  = &jsonValue{t: jsonNull}
	jsonTrueValue  = &jsonValue{t: jsonTrue}
	jsonFalseValue = &jsonValue{t: jsonFalse}
)

// Type is the value's JSON type.
func (v *jsonValue) Type() jsonType { return v.t }

// text is a string's text, or a number's.
func (v *jsonValue) text() string { return v.s }

// items are an array's items.
func (v *jsonValue) items() []*jsonValue { return v.a }

// members are an object's keys and values, in order (duplicates kept).
func (v *jsonValue) members() []jsonMember { return v.kvs }

// get returns the value of the first member named key, or nil.
func (v *jsonValue) get(key string) *jsonValue {
	for i := range v.kvs {
		if v.kvs[i].key == key {
			return v.kvs[i].val
		}
	}
	return nil
}

// float is a number's value, 0 when its text is not a number.
func (v *jsonValue) float() float64 {
	f, err := strconv.ParseFloat(v.s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0
	}
	return f
}

// maxJSONDepth bounds nesting, so that a hostile record cannot exhaust the
// stack.
const maxJSONDepth = 300

// jsonParser parses JSON text into values it keeps for reuse: once it has
// seen records of a given shape, parsing allocates nothing.
type jsonParser struct {
	vals    []jsonValue
	decoded []byte // decoded text of strings with escapes
}

// parse parses s, which must stay unchanged while its values are used.
func (p *jsonParser) parse(s string) (*jsonValue, error) {
	p.vals = p.vals[:0]
	p.decoded = p.decoded[:0]
	v, tail, err := p.value(skipSpace(s), 0)
	if err != nil {
		return nil, fmt.Errorf("cannot parse JSON: %w; unparsed tail: %q", err, shorten(tail))
	}
	if tail = skipSpace(tail); tail != "" {
		return nil, fmt.Errorf("unexpected tail: %q", shorten(tail))
	}
	return v, nil
}

func shorten(s string) string {
	if len(s) > 40 {
		return s[:20] + "..." + s[len(s)-20:]
	}
	return s
}

func skipSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\n' || s[0] == '\t' || s[0] == '\r') {
		s = s[1:]
	}
	return s
}

// newValue returns a value slot of the parser. A pointer stays valid when
// the slots grow (it points into the earlier array), and slots are reused
// with their member and item slices from parse to parse.
func (p *jsonParser) newValue(t jsonType) *jsonValue {
	if len(p.vals) < cap(p.vals) {
		p.vals = p.vals[:len(p.vals)+1]
	} else {
		p.vals = append(p.vals, jsonValue{})
	}
	v := &p.vals[len(p.vals)-1]
	v.t, v.clean, v.s = t, false, ""
	v.a, v.kvs = v.a[:0], v.kvs[:0]
	return v
}

func (p *jsonParser) value(s string, depth int) (*jsonValue, string, error) {
	if s == "" {
		return nil, s, errors.New("cannot parse empty string")
	}
	if depth++; depth > maxJSONDepth {
		return nil, s, fmt.Errorf("too deep: more than %d levels of nesting", maxJSONDepth)
	}
	switch s[0] {
	case '{':
		return p.object(s[1:], depth)
	case '[':
		return p.array(s[1:], depth)
	case '"':
		text, clean, tail, err := p.str(s[1:])
		if err != nil {
			return nil, tail, fmt.Errorf("cannot parse string: %w", err)
		}
		v := p.newValue(jsonString)
		v.s, v.clean = text, clean
		return v, tail, nil
	case 't':
		if len(s) >= 4 && s[:4] == "true" {
			return jsonTrueValue, s[4:], nil
		}
	case 'f':
		if len(s) >= 5 && s[:5] == "false" {
			return jsonFalseValue, s[5:], nil
		}
	case 'n':
		if len(s) >= 4 && s[:4] == "null" {
			return jsonNullValue, s[4:], nil
		}
	}
	num, tail, ok := numberText(s)
	if !ok {
		return nil, s, fmt.Errorf("unexpected value found: %q", shorten(s))
	}
	v := p.newValue(jsonNumber)
	v.s = num
	return v, tail, nil
}

// numberText cuts the text of a number: a run of number characters, or
// inf / nan with an optional sign.
func numberText(s string) (num, tail string, ok bool) {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.' || s[i] == '-' || s[i] == 'e' || s[i] == 'E' || s[i] == '+') {
		i++
	}
	if i < len(s) && (i == 0 || i == 1 && (s[0] == '-' || s[0] == '+')) {
		if len(s) >= i+3 && (equalFold3(s[i:i+3], "inf") || equalFold3(s[i:i+3], "nan")) {
			return s[:i+3], s[i+3:], true
		}
		return "", s, false
	}
	return s[:i], s[i:], i > 0
}

func equalFold3(s, lower string) bool {
	for i := 0; i < 3; i++ {
		if s[i]|0x20 != lower[i] {
			return false
		}
	}
	return true
}

func (p *jsonParser) array(s string, depth int) (*jsonValue, string, error) {
	s = skipSpace(s)
	a := p.newValue(jsonArray)
	if s != "" && s[0] == ']' {
		return a, s[1:], nil
	}
	for {
		v, tail, err := p.value(skipSpace(s), depth)
		if err != nil {
			return nil, tail, fmt.Errorf("cannot parse array value: %w", err)
		}
		a.a = append(a.a, v)
		s = skipSpace(tail)
		switch {
		case s == "":
			return nil, s, errors.New("unexpected end of array")
		case s[0] == ',':
			s = s[1:]
		case s[0] == ']':
			return a, s[1:], nil
		default:
			return nil, s, errors.New("missing ',' after array value")
		}
	}
}

func (p *jsonParser) object(s string, depth int) (*jsonValue, string, error) {
	s = skipSpace(s)
	o := p.newValue(jsonObject)
	if s != "" && s[0] == '}' {
		return o, s[1:], nil
	}
	for {
		s = skipSpace(s)
		if s == "" || s[0] != '"' {
			return nil, s, errors.New(`cannot find opening '"' for object key`)
		}
		key, _, tail, err := p.str(s[1:])
		if err != nil {
			return nil, tail, fmt.Errorf("cannot parse object key: %w", err)
		}
		s = skipSpace(tail)
		if s == "" || s[0] != ':' {
			return nil, s, errors.New("missing ':' after object key")
		}
		v, tail, err := p.value(skipSpace(s[1:]), depth)
		if err != nil {
			return nil, tail, fmt.Errorf("cannot parse object value: %w", err)
		}
		o.kvs = append(o.kvs, jsonMember{key, v})
		s = skipSpace(tail)
		switch {
		case s == "":
			return nil, s, errors.New("unexpected end of object")
		case s[0] == ',':
			s = s[1:]
		case s[0] == '}':
			return o, s[1:], nil
		default:
			return nil, s, errors.New("missing ',' after object value")
		}
	}
}

// str reads a string whose opening quote is consumed: its decoded text,
// whether that text is clean, and what follows the closing quote. Eight
// bytes are tested at a time for the bytes that matter (a quote, a
// backslash, and those that make the text unclean).
func (p *jsonParser) str(s string) (text string, clean bool, tail string, err error) {
	clean = true
	i := 0
	for {
		if i+8 <= len(s) {
			m := escapeMask(load64(s, i))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3 // the first byte that matters
		} else if i >= len(s) {
			return s, false, "", errors.New(`missing closing '"'`)
		}
		switch c := s[i]; {
		case c == '"':
			return s[:i], clean, s[i+1:], nil
		case c == '\\':
			return p.escaped(s, i)
		default:
			if c < 0x20 || c >= utf8.RuneSelf {
				clean = false
			}
			i++
		}
	}
}

// escaped finishes str for a string with a backslash at i: the string ends
// at the first quote not escaped, and its text is decoded into the
// parser's buffer.
func (p *jsonParser) escaped(s string, i int) (text string, clean bool, tail string, err error) {
	start := len(p.decoded)
	p.decoded = append(p.decoded, s[:i]...)
	for i < len(s) {
		// Copy the run up to the next quote or backslash.
		j := i
		for j+8 <= len(s) {
			m := quoteOrBackslash(load64(s, j))
			if m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		for j < len(s) && s[j] != '"' && s[j] != '\\' {
			j++
		}
		p.decoded = append(p.decoded, s[i:j]...)
		if i = j; i >= len(s) {
			break
		}
		if s[i] == '"' {
			return b2s(p.decoded[start:]), false, s[i+1:], nil
		}
		if i+1 >= len(s) {
			break
		}
		i += 2
		switch e := s[i-1]; e {
		case '"', '\\', '/':
			p.decoded = append(p.decoded, e)
		case 'b':
			p.decoded = append(p.decoded, '\b')
		case 'f':
			p.decoded = append(p.decoded, '\f')
		case 'n':
			p.decoded = append(p.decoded, '\n')
		case 'r':
			p.decoded = append(p.decoded, '\r')
		case 't':
			p.decoded = append(p.decoded, '\t')
		case 'u':
			i = p.unicodeEscape(s, i)
		default:
			// An unknown escape is kept as written.
			p.decoded = append(p.decoded, '\\', e)
		}
	}
	return "", false, "", errors.New(`missing closing '"'`)
}

// quoteOrBackslash has the high bit set in the lowest byte of w that is a
// quote or a backslash, if there is one (see escapeMask).
func quoteOrBackslash(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := w^(ones*'"'), w^(ones*'\\')
	return ((quote-ones)&^quote | (backslash-ones)&^backslash) & highs
}

// unicodeEscape decodes the \uXXXX whose backslash and u end before i,
// joining surrogate pairs; what is not a valid escape is kept as written.
// It returns where reading goes on.
func (p *jsonParser) unicodeEscape(s string, i int) int {
	x, ok := hex4(s, i)
	if !ok {
		p.decoded = append(p.decoded, `\u`...)
		return i
	}
	i += 4
	if !utf16.IsSurrogate(rune(x)) {
		p.decoded = utf8.AppendRune(p.decoded, rune(x))
		return i
	}
	if i+6 > len(s) || s[i] != '\\' || s[i+1] != 'u' {
		p.decoded = append(p.decoded, s[i-6:i]...)
		return i
	}
	y, ok := hex4(s, i+2)
	if !ok {
		p.decoded = append(p.decoded, s[i-6:i]...)
		return i
	}
	p.decoded = utf8.AppendRune(p.decoded, utf16.DecodeRune(rune(x), rune(y)))
	return i + 6
}

func hex4(s string, i int) (uint16, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(s[i:i+4], 16, 16)
	return uint16(n), err == nil
}
