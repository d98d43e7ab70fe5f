package normalize

import "strings"

// The reference renders its templates in a "native" Jinja environment: the
// rendered text is handed to Python's ast.literal_eval and, when that
// succeeds, the resulting value replaces the text. This is why a property
// holding the text `["a","b"]` becomes a list and `None` disappears.
// literalEval (pyliteral.go) reproduces ast.literal_eval.

// nativeText applies the reference's rule to rendered text: a literal of
// a container or scalar type replaces the text; anything else (not a
// literal, or a literal string, tuple or set, whose conversion the
// reference does not keep) leaves the text as it is, and ok is false.
func nativeText(s string) (v any, ok bool) {
	if s == "" {
		return nil, false
	}
	if !mayBeLiteral(s[0]) {
		return nil, false
	}
	switch c := s[0]; {
	case c >= '0' && c <= '9' && !numberChars(s):
		return nil, false // a timestamp, an address, a hash: not a number
	case c == 'T' && !strings.HasPrefix(s, "True"), c == 'F' && !strings.HasPrefix(s, "False"),
		c == 'N' && !strings.HasPrefix(s, "None"):
		return nil, false // a name such as TokenElevationTypeDefault
	}
	if c := s[0]; c == '[' || c == '{' {
		if v, ok := jsonLiteral(s); ok {
			return v, true
		}
	}
	v, err := literalEval(s)
	if err != nil {
		return nil, false
	}
	switch v.(type) {
	case string, tuple, set, []byte:
		return nil, false
	}
	return v, true
}

// native is nativeText for any value: text may become a literal, other
// values are kept.
func native(v any) any {
	if s, ok := v.(string); ok {
		if nv, changed := nativeText(s); changed {
			return nv
		}
	}
	return v
}

// mayBeLiteral tells whether text starting with c can be a literal that
// is kept. Text starting with a quote can only be a string literal, which
// is not kept; leading blanks make Python's parser fail.
func mayBeLiteral(c byte) bool {
	switch {
	case c == '[' || c == '{' || c == '(' || c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		return true
	case c == 'T' || c == 'F' || c == 'N':
		return true
	}
	return false
}

// numberChars tells whether s only holds characters a number literal (or
// a blank or comment after it) can hold, with at most one decimal point.
func numberChars(s string) bool {
	dots := 0
	// Letters that are hex digits only belong to a number after a radix
	// prefix (0x, 0b, 0o), or as an exponent: a hash such as "5d41402a..."
	// is turned away here rather than by the parser.
	radix := len(s) > 1 && s[0] == '0' && strings.IndexByte("xXbBoO", s[1]) >= 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == 'e' || c == 'E':
		case c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			if !radix {
				return false
			}
		case c == '_' || c == '+' || c == '-' || c == 'x' || c == 'X' || c == 'o' || c == 'O' || c == 'j' || c == 'J':
		case c == '.':
			dots++
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '#':
			return dots <= 1 // what follows is checked by the parser
		default:
			return false
		}
	}
	return dots <= 1
}
