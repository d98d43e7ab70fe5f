package query

import "fmt"

// Grouped values, as in Lucene and KQL: field:(a OR b), field:(a AND NOT b),
// field:("x y" OR z* OR (c d)). The group is parsed with the usual boolean
// grammar, every value in it becoming a Match (or Range) on the field, so
// field:(a OR b) is exactly (field:a OR field:b): no bare word comes out of
// a group, and the word-index fast paths, which only answer bare words, do
// not take it for one.

// groupOf parses the parenthesised values after "field:" (p.pos at '(').
func (p *parser) groupOf(field string, start int) (Node, error) {
	if p.group != "" {
		return nil, p.errf(fmt.Sprintf("a field inside the grouped values of %s", p.group), "write (a:x OR b:y) outside the group")
	}
	open := p.pos
	p.pos++
	p.group, p.groupPos = field, start
	defer func() { p.group, p.groupPos = "", 0 }()
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errf("query is nested too deeply", "simplify the parentheses")
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.eof() || p.peek() != ')' {
		return nil, &SyntaxError{Pos: open, Msg: "unclosed '('", Hint: "add ')' at the end of the grouped values of " + field}
	}
	p.pos++
	return n, nil
}

// groupValue parses one unquoted value inside a group: a range or a word,
// wildcards included. In value position ':' belongs to the value
// (timestamps, IPv6), as after field:.
func (p *parser) groupValue() (Node, error) {
	switch c := p.peek(); c {
	case '[', '{':
		return p.rangeValue(p.group, p.groupPos)
	case ']', '}', '<', '>', '=':
		return nil, p.errf(fmt.Sprintf("unexpected %q", c), "quote the value if the character is part of it")
	}
	at := p.pos
	v, like, err := p.word(true)
	if err != nil {
		return nil, err
	}
	if !p.eof() && p.peek() == '(' {
		return nil, p.errf(fmt.Sprintf("a field inside the grouped values of %s", p.group), "write (a:x OR b:y) outside the group")
	}
	return Match{Field: p.group, Value: v, Like: like, Pos: p.groupPos, ValuePos: at}, nil
}
