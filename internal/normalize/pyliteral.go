package normalize

import (
	"errors"
	"math/big"
	"strconv"
	"strings"
)

// literalEval reproduces ast.literal_eval for the literals it accepts:
// strings (with prefixes and escapes), numbers, True/False/None, lists,
// tuples, dicts and sets, unary signs.

var errNotLiteral = errors.New("not a Python literal")

func literalEval(s string) (any, error) {
	p := &litParser{s: s}
	v, err := p.expr(true)
	if err != nil {
		return nil, err
	}
	p.space(true)
	if p.i != len(p.s) {
		return nil, errNotLiteral
	}
	return v, nil
}

type litParser struct {
	s     string
	i     int
	depth int
}

// space skips blanks and comments. Newlines only count as blanks inside
// brackets (or at the very end, where Python's eval accepts them).
func (p *litParser) space(newlines bool) {
	for p.i < len(p.s) {
		switch c := p.s[p.i]; c {
		case ' ', '\t', '\f':
			p.i++
		case '\r', '\n':
			if !newlines && strings.TrimLeft(p.s[p.i:], " \t\r\n") != "" {
				return
			}
			p.i++
		case '\\':
			if p.i+1 < len(p.s) && p.s[p.i+1] == '\n' {
				p.i += 2
				continue
			}
			return
		case '#':
			for p.i < len(p.s) && p.s[p.i] != '\n' {
				p.i++
			}
		default:
			return
		}
	}
}

// expr parses a value, or a bare tuple `a, b` when top is set.
func (p *litParser) expr(top bool) (any, error) {
	v, err := p.atom()
	if err != nil {
		return nil, err
	}
	if !top {
		return v, nil
	}
	p.space(p.depth > 0)
	if p.i < len(p.s) && p.s[p.i] == ',' {
		items := tuple{v}
		for p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			p.space(p.depth > 0)
			if p.i == len(p.s) || strings.HasPrefix(p.s[p.i:], "#") {
				break
			}
			it, err := p.atom()
			if err != nil {
				return nil, err
			}
			items = append(items, it)
			p.space(p.depth > 0)
		}
		return items, nil
	}
	return v, nil
}

func (p *litParser) atom() (any, error) {
	if p.depth > 100 {
		return nil, errNotLiteral
	}
	p.space(p.depth > 0)
	if p.i >= len(p.s) {
		return nil, errNotLiteral
	}
	switch c := p.s[p.i]; {
	case c == '[':
		return p.sequence('[', ']')
	case c == '(':
		return p.sequence('(', ')')
	case c == '{':
		return p.braces()
	case c == '-' || c == '+':
		p.i++
		p.space(p.depth > 0)
		v, err := p.atom()
		if err != nil {
			return nil, err
		}
		return negate(v, c == '-')
	case c >= '0' && c <= '9' || c == '.' && p.i+1 < len(p.s) && p.s[p.i+1] >= '0' && p.s[p.i+1] <= '9':
		return p.number()
	case c == '"' || c == '\'':
		return p.strings()
	case isIdentStart(c):
		j := p.i
		for j < len(p.s) && isIdentChar(p.s[j]) {
			j++
		}
		word := p.s[p.i:j]
		if j < len(p.s) && (p.s[j] == '"' || p.s[j] == '\'') && isStringPrefix(word) {
			return p.strings()
		}
		p.i = j
		switch word {
		case "True":
			return true, nil
		case "False":
			return false, nil
		case "None":
			return nil, nil
		}
	}
	return nil, errNotLiteral
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func isStringPrefix(w string) bool {
	switch strings.ToLower(w) {
	case "r", "u", "b", "br", "rb":
		return true
	}
	return false
}

func negate(v any, neg bool) (any, error) {
	switch x := v.(type) {
	case int64:
		if neg {
			return -x, nil
		}
		return x, nil
	case float64:
		if neg {
			return -x, nil
		}
		return x, nil
	case bigInt:
		if neg {
			if strings.HasPrefix(string(x), "-") {
				return bigInt(x[1:]), nil
			}
			return bigInt("-" + string(x)), nil
		}
		return x, nil
	}
	return nil, errNotLiteral
}

func (p *litParser) sequence(open, close byte) (any, error) {
	p.i++
	p.depth++
	defer func() { p.depth-- }()
	var items []any
	trailingComma := false
	for {
		p.space(true)
		if p.i >= len(p.s) {
			return nil, errNotLiteral
		}
		if p.s[p.i] == close {
			p.i++
			break
		}
		v, err := p.atom()
		if err != nil {
			return nil, err
		}
		items = append(items, v)
		p.space(true)
		trailingComma = false
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			trailingComma = true
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == close {
			p.i++
			break
		}
		return nil, errNotLiteral
	}
	if open == '(' {
		if len(items) == 1 && !trailingComma {
			return items[0], nil
		}
		return tuple(items), nil
	}
	if items == nil {
		items = []any{}
	}
	return items, nil
}

// braces parses a dict or a set.
func (p *litParser) braces() (any, error) {
	p.i++
	p.depth++
	defer func() { p.depth-- }()
	d := &dict{}
	var members set
	isSet := false
	for {
		p.space(true)
		if p.i >= len(p.s) {
			return nil, errNotLiteral
		}
		if p.s[p.i] == '}' {
			p.i++
			break
		}
		k, err := p.atom()
		if err != nil {
			return nil, err
		}
		p.space(true)
		if p.i < len(p.s) && p.s[p.i] == ':' && !isSet {
			p.i++
			v, err := p.atom()
			if err != nil {
				return nil, err
			}
			key, ok := dictKey(k)
			if !ok {
				return nil, errNotLiteral
			}
			d.put(key, v)
		} else if len(d.keys) == 0 {
			isSet = true
			members = append(members, k)
		} else {
			return nil, errNotLiteral
		}
		p.space(true)
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			break
		}
		return nil, errNotLiteral
	}
	if isSet {
		return members, nil
	}
	return d, nil
}

// dictKey renders a hashable key as the text json.dumps would give it.
func dictKey(k any) (string, bool) {
	switch x := k.(type) {
	case string:
		return x, true
	case nil:
		return "null", true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	case int64, float64, bigInt:
		return str(x), true
	}
	return "", false
}

func (p *litParser) number() (any, error) {
	j := p.i
	s := p.s
	if s[j] == '0' && j+1 < len(s) && strings.ContainsRune("xXoObB", rune(s[j+1])) {
		base := 16
		switch s[j+1] {
		case 'o', 'O':
			base = 8
		case 'b', 'B':
			base = 2
		}
		j += 2
		for j < len(s) && (isIdentChar(s[j])) {
			j++
		}
		digits := strings.ReplaceAll(s[p.i+2:j], "_", "")
		n, ok := new(big.Int).SetString(digits, base)
		if !ok || digits == "" {
			return nil, errNotLiteral
		}
		p.i = j
		return intValue(n), nil
	}
	isFloat := false
	for j < len(s) {
		c := s[j]
		switch {
		case c >= '0' && c <= '9' || c == '_':
		case c == '.':
			isFloat = true
		case c == 'e' || c == 'E':
			isFloat = true
			if j+1 < len(s) && (s[j+1] == '+' || s[j+1] == '-') {
				j++
			}
		case c == 'j' || c == 'J':
			return nil, errNotLiteral // complex
		case isIdentChar(c):
			return nil, errNotLiteral // "1abc": invalid decimal literal
		default:
			goto done
		}
		j++
	}
done:
	text := s[p.i:j]
	if strings.Contains(text, "__") || strings.HasSuffix(text, "_") || strings.Contains(text, "_.") || strings.Contains(text, "._") {
		return nil, errNotLiteral
	}
	clean := strings.ReplaceAll(text, "_", "")
	p.i = j
	if isFloat {
		f, err := strconv.ParseFloat(clean, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return f, nil
			}
			return nil, errNotLiteral
		}
		return f, nil
	}
	// Python 3 rejects leading zeros in a non-zero decimal integer.
	if len(clean) > 1 && clean[0] == '0' && strings.Trim(clean, "0") != "" {
		return nil, errNotLiteral
	}
	if n, err := strconv.ParseInt(clean, 10, 64); err == nil {
		return n, nil
	}
	n, ok := new(big.Int).SetString(clean, 10)
	if !ok {
		return nil, errNotLiteral
	}
	return intValue(n), nil
}

func intValue(n *big.Int) any {
	if n.IsInt64() {
		return n.Int64()
	}
	return bigInt(n.String())
}
