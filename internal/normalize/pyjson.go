package normalize

import "sync"

// Most text that literal evaluation turns into a list or a dict is JSON
// (IPTags, DetectionMethods, AdditionalFields held as text). Where JSON and
// Python literals mean the same thing, the JSON parser reads it faster
// than the Python literal parser. They mean the same thing when the text
// has no backslash (the two languages' escapes differ), no control byte
// (Python refuses some inside strings), no true, false or null (not
// Python), and only numbers both languages read alike: JSON numbers
// whose integers fit in 64 bits. Anything else goes to the literal parser.

var jsonLiteralParsers = sync.Pool{New: func() any { return new(jsonParser) }}

// jsonLiteral is literal evaluation of text starting with [ or {, when the
// text is JSON that means the same in Python; ok is false otherwise (the
// caller then evaluates it as Python).
func jsonLiteral(s string) (v any, ok bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c < 0x20 {
			return nil, false
		}
	}
	p := jsonLiteralParsers.Get().(*jsonParser)
	defer jsonLiteralParsers.Put(p)
	j, err := p.parse(s)
	if err != nil || !pythonCompatible(j, 0) {
		return nil, false
	}
	// Without escapes, every string is a view of s, not of the parser, so
	// the parser can be reused as soon as the value is converted (with its
	// strings boxed apart from the parser's slots).
	return fromJSONDetached(j), true
}

// pythonCompatible tells whether a parsed value reads the same as a Python
// literal.
func pythonCompatible(v *jsonValue, depth int) bool {
	if depth > 50 {
		return false
	}
	switch v.Type() {
	case jsonString:
		return true
	case jsonNumber:
		return plainJSONNumber(v.text())
	case jsonArray:
		for _, it := range v.items() {
			if !pythonCompatible(it, depth+1) {
				return false
			}
		}
		return true
	case jsonObject:
		for _, m := range v.members() {
			if !pythonCompatible(m.val, depth+1) {
				return false
			}
		}
		return true
	}
	return false // true, false, null
}

// plainJSONNumber checks JSON's number grammar, with integers of at most 18
// digits: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func plainJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - start
	}
	n := digits()
	if n == 0 || n > 1 && s[i-n] == '0' {
		return false
	}
	integer := true
	if i < len(s) && s[i] == '.' {
		i++
		integer = false
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		integer = false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s) && (!integer || n <= 18)
}
