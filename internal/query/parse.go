package query

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// SyntaxError is a query that cannot be parsed. Pos is the 0-based byte
// offset where the problem was found, the number its message and the API's
// "position" give; Hint suggests a fix.
type SyntaxError struct {
	Pos  int
	Msg  string
	Hint string
}

func (e *SyntaxError) Error() string {
	s := fmt.Sprintf("query syntax error at position %d: %s", e.Pos, e.Msg)
	if e.Hint != "" {
		s += " (hint: " + e.Hint + ")"
	}
	return s
}

// maxDepth bounds nesting so a hostile query cannot exhaust the stack.
const maxDepth = 64

// maxLen bounds the query text.
const maxLen = 8192

// Parse parses a query. The empty (or blank) query is All{}.
func Parse(src string) (Node, error) {
	if len(src) > maxLen {
		return nil, &SyntaxError{Pos: maxLen, Msg: "query is too long", Hint: fmt.Sprintf("keep it under %d bytes", maxLen)}
	}
	if !utf8.ValidString(src) {
		return nil, &SyntaxError{Pos: 0, Msg: "query is not valid UTF-8"}
	}
	p := &parser{src: src}
	p.skipSpace()
	if p.eof() {
		return All{}, nil
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if !p.eof() {
		if p.peek() == ')' {
			return nil, p.errf("unexpected ')'", "remove it or add the matching '('")
		}
		return nil, p.errf(fmt.Sprintf("unexpected %q", p.peek()), "")
	}
	return n, nil
}

type parser struct {
	src   string
	pos   int
	depth int
	// group is the field of the grouped values being parsed
	// (field:(a OR b)); empty outside a group. groupPos is where the
	// field name starts.
	group    string
	groupPos int
}

func (p *parser) eof() bool  { return p.pos >= len(p.src) }
func (p *parser) peek() byte { return p.src[p.pos] }

func (p *parser) errf(msg, hint string) error {
	return &SyntaxError{Pos: p.pos, Msg: msg, Hint: hint}
}

func (p *parser) skipSpace() {
	for !p.eof() {
		switch p.peek() {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// keyword reports whether the upper-case operator kw starts at pos and is
// followed by a separator, so "ORACLE" is a word and not OR.
func (p *parser) keyword(kw string) bool {
	if !strings.HasPrefix(p.src[p.pos:], kw) {
		return false
	}
	end := p.pos + len(kw)
	return end == len(p.src) || isSpace(p.src[end]) || p.src[end] == '('
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (p *parser) parseOr() (Node, error) {
	first, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	nodes := []Node{first}
	for {
		p.skipSpace()
		if !p.keyword("OR") {
			break
		}
		p.pos += 2
		p.skipSpace()
		if p.eof() || p.peek() == ')' {
			return nil, p.errf("OR needs a term after it", "write `a OR b`")
		}
		n, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 1 {
		return first, nil
	}
	return Or{Nodes: nodes}, nil
}

func (p *parser) parseAnd() (Node, error) {
	var nodes []Node
	for {
		p.skipSpace()
		if p.eof() || p.peek() == ')' || p.keyword("OR") {
			break
		}
		if p.keyword("AND") {
			if len(nodes) == 0 {
				return nil, p.errf("AND needs a term before it", "write `a AND b`")
			}
			p.pos += 3
			p.skipSpace()
			if p.eof() || p.peek() == ')' || p.keyword("OR") || p.keyword("AND") {
				return nil, p.errf("AND needs a term after it", "write `a AND b`")
			}
		}
		n, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	switch len(nodes) {
	case 0:
		return nil, p.errf("expected a search term", "try `field:value` or a word")
	case 1:
		return nodes[0], nil
	}
	return And{Nodes: nodes}, nil
}

func (p *parser) parseUnary() (Node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errf("query is nested too deeply", "simplify the parentheses")
	}
	p.skipSpace()
	if p.keyword("NOT") || (!p.eof() && p.peek() == '-' && p.pos+1 < len(p.src) && !isSpace(p.src[p.pos+1])) {
		if p.peek() == '-' {
			p.pos++
		} else {
			p.pos += 3
		}
		p.skipSpace()
		if p.eof() {
			return nil, p.errf("NOT needs a term after it", "write `NOT field:value` or `-field:value`")
		}
		n, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return Not{Node: n}, nil
	}
	return p.parsePrimary()
}

func (p *parser) parsePrimary() (Node, error) {
	if p.eof() {
		return nil, p.errf("expected a search term", "")
	}
	switch c := p.peek(); c {
	case '(':
		open := p.pos
		p.pos++
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.eof() || p.peek() != ')' {
			return nil, &SyntaxError{Pos: open, Msg: "unclosed '('", Hint: "add ')' at the end of the group"}
		}
		p.pos++
		return n, nil
	case '"':
		start := p.pos
		v, err := p.phrase()
		if err != nil {
			return nil, err
		}
		if p.group != "" {
			return Match{Field: p.group, Value: v, Phrase: true, Pos: p.groupPos, ValuePos: start}, nil
		}
		return Match{Value: v, Phrase: true, Pos: start, ValuePos: start}, nil
	}
	if p.group != "" {
		return p.groupValue()
	}
	switch c := p.peek(); c {
	case ')', '[', ']', '{', '}', ':', '<', '>', '=':
		return nil, p.errf(fmt.Sprintf("unexpected %q", c), "quote the value if the character is part of it")
	}
	return p.parseTerm()
}

// parseTerm reads a word; if it is a field name followed by ':' or a
// comparison operator, the value that follows.
func (p *parser) parseTerm() (Node, error) {
	start := p.pos
	name, ok := p.fieldName()
	if ok {
		save := p.pos
		p.skipSpace()
		if !p.eof() {
			switch p.peek() {
			case ':':
				p.pos++
				return p.fieldValue(name, start)
			case '<', '>':
				return p.compare(name, start)
			}
		}
		p.pos = save
	}
	p.pos = start
	w, like, err := p.word(false)
	if err != nil {
		return nil, err
	}
	return Match{Value: w, Like: like, Pos: start, ValuePos: start}, nil
}

// fieldName reads [A-Za-z0-9_@.-]+ without consuming anything on failure.
func (p *parser) fieldName() (string, bool) {
	i := p.pos
	for i < len(p.src) && isFieldChar(p.src[i]) {
		i++
	}
	if i == p.pos {
		return "", false
	}
	if i < len(p.src) && !isSpace(p.src[i]) && p.src[i] != ':' && p.src[i] != '<' && p.src[i] != '>' {
		return "", false
	}
	name := p.src[p.pos:i]
	p.pos = i
	return name, true
}

func isFieldChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '@' || c == '.' || c == '-'
}

func (p *parser) compare(field string, start int) (Node, error) {
	op := string(p.peek())
	p.pos++
	if !p.eof() && p.peek() == '=' {
		op += "="
		p.pos++
	}
	p.skipSpace()
	if p.eof() {
		return nil, p.errf("expected a value after "+op, "write `"+field+" "+op+" VALUE`")
	}
	v, err := p.plainValue()
	if err != nil {
		return nil, err
	}
	return Compare{Field: field, Op: op, Value: v, Pos: start}, nil
}

func (p *parser) fieldValue(field string, start int) (Node, error) {
	if p.eof() || isSpace(p.peek()) {
		return nil, p.errf("expected a value after "+field+":", "write `"+field+":VALUE`, quote values with spaces")
	}
	if field == "_exists_" {
		at := p.pos
		name, ok := p.fieldName()
		if !ok {
			return nil, &SyntaxError{Pos: at, Msg: "expected a field name after _exists_:", Hint: "write `_exists_:user.name`"}
		}
		return Exists{Field: name, Pos: start}, nil
	}
	at := p.pos
	switch c := p.peek(); c {
	case '"':
		v, err := p.phrase()
		if err != nil {
			return nil, err
		}
		return Match{Field: field, Value: v, Phrase: true, Pos: start, ValuePos: at}, nil
	case '[', '{':
		return p.rangeValue(field, start)
	case '<', '>':
		return p.compare(field, start)
	case '(':
		return p.groupOf(field, start)
	}
	v, like, err := p.word(true)
	if err != nil {
		return nil, err
	}
	return Match{Field: field, Value: v, Like: like, Pos: start, ValuePos: at}, nil
}

func (p *parser) rangeValue(field string, start int) (Node, error) {
	open := p.pos
	loIncl := p.peek() == '['
	p.pos++
	p.skipSpace()
	lo, err := p.boundValue()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if !p.keyword("TO") {
		return nil, p.errf("expected TO in range", "write `"+field+":[1 TO 1024]`")
	}
	p.pos += 2
	p.skipSpace()
	hi, err := p.boundValue()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.eof() || (p.peek() != ']' && p.peek() != '}') {
		return nil, &SyntaxError{Pos: open, Msg: "unclosed range", Hint: "close it with ']' (inclusive) or '}' (exclusive)"}
	}
	hiIncl := p.peek() == ']'
	p.pos++
	if lo == "*" {
		lo = ""
	}
	if hi == "*" {
		hi = ""
	}
	return Range{Field: field, Lo: lo, Hi: hi, LoIncl: loIncl, HiIncl: hiIncl, Pos: start}, nil
}

func (p *parser) boundValue() (string, error) {
	if p.eof() {
		return "", p.errf("unfinished range", "write `[1 TO 1024]`")
	}
	if p.peek() == '"' {
		return p.phrase()
	}
	i := p.pos
	for i < len(p.src) && !isSpace(p.src[i]) && p.src[i] != ']' && p.src[i] != '}' {
		i++
	}
	if i == p.pos {
		return "", p.errf("expected a range bound", "use * for an open end")
	}
	v := p.src[p.pos:i]
	p.pos = i
	return v, nil
}

// plainValue reads a quoted or unquoted value with no wildcard meaning.
func (p *parser) plainValue() (string, error) {
	if p.peek() == '"' {
		return p.phrase()
	}
	v, _, err := p.word(true)
	return v, err
}

func (p *parser) phrase() (string, error) {
	open := p.pos
	p.pos++ // opening quote
	var b strings.Builder
	for !p.eof() {
		c := p.peek()
		switch c {
		case '\\':
			if p.pos+1 >= len(p.src) {
				p.pos++
				return "", p.errf("dangling backslash", `write \\ for a backslash`)
			}
			b.WriteByte(p.src[p.pos+1])
			p.pos += 2
		case '"':
			p.pos++
			return b.String(), nil
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	return "", &SyntaxError{Pos: open, Msg: "unclosed quote", Hint: `add the closing " (write \" for a quote inside)`}
}

// word reads an unquoted value. In value position ':' is part of the value
// (timestamps, IPv6). It returns the literal and, when the word holds
// unescaped * or ?, a LIKE pattern.
func (p *parser) word(valuePos bool) (string, string, error) {
	var lit, like strings.Builder
	wild := false
	start := p.pos
	for !p.eof() {
		c := p.peek()
		if isSpace(c) || c == '(' || c == ')' || c == '"' || (!valuePos && c == ':') {
			break
		}
		if c == '[' || c == ']' || c == '{' || c == '}' {
			return "", "", p.errf(fmt.Sprintf("unexpected %q", c), `quote the value or escape it with \`)
		}
		switch c {
		case '\\':
			if p.pos+1 >= len(p.src) {
				return "", "", p.errf("dangling backslash", `write \\ for a backslash`)
			}
			e := p.src[p.pos+1]
			lit.WriteByte(e)
			writeLikeLiteral(&like, e)
			p.pos += 2
			continue
		case '*':
			wild = true
			like.WriteByte('%')
		case '?':
			wild = true
			like.WriteByte('_')
		default:
			writeLikeLiteral(&like, c)
		}
		lit.WriteByte(c)
		p.pos++
	}
	if p.pos == start {
		return "", "", p.errf("expected a value", "")
	}
	if wild {
		return lit.String(), like.String(), nil
	}
	return lit.String(), "", nil
}

func writeLikeLiteral(b *strings.Builder, c byte) {
	if c == '%' || c == '_' || c == '\\' {
		b.WriteByte('\\')
	}
	b.WriteByte(c)
}
