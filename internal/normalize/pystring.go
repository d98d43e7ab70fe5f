package normalize

// Python string literals for literal evaluation: prefixes (r, b, u),
// quotes (single, double, triple), escapes and implicit joining.

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// strings parses one or more adjacent string literals (Python joins them).
func (p *litParser) strings() (any, error) {
	// The common case, one plain literal with no escape, is a substring
	// of the input and needs no copy.
	if v, ok := p.plainString(); ok {
		return v, nil
	}
	var out strings.Builder
	isBytes := false
	first := true
	for {
		j := p.i
		for j < len(p.s) && isIdentChar(p.s[j]) {
			j++
		}
		prefix := strings.ToLower(p.s[p.i:j])
		if j >= len(p.s) || (p.s[j] != '"' && p.s[j] != '\'') || (prefix != "" && !isStringPrefix(prefix)) {
			if first {
				return nil, errNotLiteral
			}
			break
		}
		b := strings.IndexByte(prefix, 'b') >= 0
		if !first && b != isBytes {
			return nil, errNotLiteral // cannot mix bytes and str
		}
		isBytes = b
		p.i = j
		if err := p.stringLiteral(&out, strings.IndexByte(prefix, 'r') >= 0, b); err != nil {
			return nil, err
		}
		first = false
		save := p.i
		p.space(p.depth > 0)
		if p.i >= len(p.s) || !(p.s[p.i] == '"' || p.s[p.i] == '\'' || isIdentStart(p.s[p.i])) {
			p.i = save
			break
		}
	}
	if isBytes {
		return []byte(out.String()), nil
	}
	return out.String(), nil
}

// plainString parses a quoted string without prefix, escape or line break
// that is not followed by another literal to join.
func (p *litParser) plainString() (string, bool) {
	q := p.s[p.i]
	if q != '"' && q != '\'' || strings.HasPrefix(p.s[p.i+1:], string([]byte{q, q})) {
		return "", false
	}
	body := p.s[p.i+1:]
	end := strings.IndexByte(body, q)
	if end < 0 || strings.IndexByte(body[:end], '\\') >= 0 || strings.IndexByte(body[:end], '\n') >= 0 || strings.IndexByte(body[:end], '\r') >= 0 {
		return "", false
	}
	// Another literal right after (implicit join) takes the slow path.
	rest := p.s[p.i+1+end+1:]
	k := 0
	for k < len(rest) && (rest[k] == ' ' || rest[k] == '\t' || rest[k] == '\n' || rest[k] == '\r') {
		k++
	}
	if k < len(rest) && (rest[k] == '"' || rest[k] == '\'' || isIdentStart(rest[k])) {
		return "", false
	}
	p.i += 1 + end + 1
	return body[:end], true
}

func (p *litParser) stringLiteral(out *strings.Builder, raw, isBytes bool) error {
	q := p.s[p.i]
	tripleQ := string([]byte{q, q, q})
	triple := strings.HasPrefix(p.s[p.i:], tripleQ)
	if triple {
		p.i += 3
	} else {
		p.i++
	}
	for {
		if p.i >= len(p.s) {
			return errNotLiteral
		}
		c := p.s[p.i]
		if c == q {
			if !triple {
				p.i++
				return nil
			}
			if strings.HasPrefix(p.s[p.i:], tripleQ) {
				p.i += 3
				return nil
			}
		}
		if (c == '\n' || c == '\r') && !triple {
			return errNotLiteral
		}
		if isBytes && c >= 0x80 {
			return errNotLiteral
		}
		if c != '\\' {
			r, n := utf8.DecodeRuneInString(p.s[p.i:])
			if r == utf8.RuneError && n == 1 {
				out.WriteByte(c)
			} else {
				out.WriteString(p.s[p.i : p.i+n])
			}
			p.i += n
			continue
		}
		if p.i+1 >= len(p.s) {
			return errNotLiteral
		}
		if raw {
			// In raw strings a backslash escapes nothing but still keeps
			// the next character from ending the string.
			out.WriteByte('\\')
			out.WriteByte(p.s[p.i+1])
			p.i += 2
			continue
		}
		if err := p.escape(out, isBytes); err != nil {
			return err
		}
	}
}

func (p *litParser) escape(out *strings.Builder, isBytes bool) error {
	e := p.s[p.i+1]
	p.i += 2
	if s, ok := simpleEscape(e); ok {
		out.WriteString(s)
		return nil
	}
	hex := func(n int) (rune, error) {
		if p.i+n > len(p.s) {
			return 0, errNotLiteral
		}
		v, err := strconv.ParseUint(p.s[p.i:p.i+n], 16, 32)
		if err != nil {
			return 0, errNotLiteral
		}
		p.i += n
		return rune(v), nil
	}
	switch {
	case e >= '0' && e <= '7':
		j := p.i - 1
		for j < len(p.s) && j < p.i+2 && p.s[j] >= '0' && p.s[j] <= '7' {
			j++
		}
		v, _ := strconv.ParseUint(p.s[p.i-1:j], 8, 32)
		p.i = j
		writeCode(out, rune(v), isBytes)
	case e == 'x':
		r, err := hex(2)
		if err != nil {
			return err
		}
		writeCode(out, r, isBytes)
	case (e == 'u' || e == 'U') && !isBytes:
		n := 4
		if e == 'U' {
			n = 8
		}
		r, err := hex(n)
		if err != nil || r > utf8.MaxRune {
			return errNotLiteral
		}
		out.WriteRune(r)
	case e == 'N' && !isBytes:
		return errNotLiteral // named escapes need the Unicode name table
	default:
		// Unknown escapes are kept as written.
		out.WriteByte('\\')
		p.i--
	}
	return nil
}

func simpleEscape(e byte) (string, bool) {
	switch e {
	case '\\':
		return "\\", true
	case '\'':
		return "'", true
	case '"':
		return "\"", true
	case 'a':
		return "\a", true
	case 'b':
		return "\b", true
	case 'f':
		return "\f", true
	case 'n':
		return "\n", true
	case 'r':
		return "\r", true
	case 't':
		return "\t", true
	case 'v':
		return "\v", true
	case '\n':
		return "", true
	}
	return "", false
}

func writeCode(out *strings.Builder, r rune, isBytes bool) {
	if isBytes {
		out.WriteByte(byte(r))
		return
	}
	out.WriteRune(r)
}
