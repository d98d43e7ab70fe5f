package sigma

import (
	"path"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// node is a compiled condition: an and/or/not tree whose leaves are field
// conditions (selections are expanded into their items at compile time).
type node struct {
	op   opKind
	kids []*node
	cond *fieldCond
	n    int // opAtLeast: how many kids must match
}

type opKind uint8

const (
	opAnd opKind = iota
	opOr
	opNot
	opLeaf
	opTrue  // empty AND: `all of` over nothing never happens, kept for safety
	opFalse // empty OR
	opAtLeast
)

// conditionParser parses a Sigma condition with the usual precedence:
// not binds tighter than and, which binds tighter than or.
type conditionParser struct {
	toks []string
	pos  int
	sels map[string]*node
}

func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, string(c))
			i++
		case c == '|':
			return nil, skipf("aggregation not supported", "pipe in condition %q (deprecated in Sigma v2)", s)
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n()|", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

func parseCondition(cond string, sels map[string]*node) (*node, error) {
	toks, err := tokenize(cond)
	if err != nil {
		return nil, err
	}
	p := &conditionParser{toks: toks, sels: sels}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, skipf("invalid condition", "unexpected %q in %q", p.toks[p.pos], cond)
	}
	return n, nil
}

func (p *conditionParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *conditionParser) parseOr() (*node, error) {
	left, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	kids := []*node{left}
	for strings.EqualFold(p.peek(), "or") {
		p.pos++
		right, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		kids = append(kids, right)
	}
	if len(kids) == 1 {
		return left, nil
	}
	return &node{op: opOr, kids: kids}, nil
}

func (p *conditionParser) parseAnd() (*node, error) {
	left, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	kids := []*node{left}
	for strings.EqualFold(p.peek(), "and") {
		p.pos++
		right, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		kids = append(kids, right)
	}
	if len(kids) == 1 {
		return left, nil
	}
	return &node{op: opAnd, kids: kids}, nil
}

func (p *conditionParser) parseNot() (*node, error) {
	if strings.EqualFold(p.peek(), "not") {
		p.pos++
		n, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &node{op: opNot, kids: []*node{n}}, nil
	}
	return p.parsePrimary()
}

func (p *conditionParser) parsePrimary() (*node, error) {
	tok := p.peek()
	switch {
	case tok == "":
		return nil, skipf("invalid condition", "unexpected end")
	case tok == "(":
		p.pos++
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, skipf("invalid condition", "missing )")
		}
		p.pos++
		return n, nil
	case isQuantifier(tok) && strings.EqualFold(p.lookahead(1), "of"):
		p.pos += 2
		target := p.peek()
		if target == "" || target == "(" || target == ")" {
			return nil, skipf("invalid condition", "%s of without a target", tok)
		}
		p.pos++
		return p.quantified(tok, target)
	case tok == ")" || strings.EqualFold(tok, "and") || strings.EqualFold(tok, "or"):
		return nil, skipf("invalid condition", "unexpected %q", tok)
	}
	p.pos++
	n, ok := p.sels[tok]
	if !ok {
		return nil, skipf("invalid condition", "unknown search identifier %q", tok)
	}
	return n, nil
}

func (p *conditionParser) lookahead(k int) string {
	if p.pos+k < len(p.toks) {
		return p.toks[p.pos+k]
	}
	return ""
}

func isQuantifier(tok string) bool {
	if strings.EqualFold(tok, "all") || strings.EqualFold(tok, "any") {
		return true
	}
	for _, r := range tok {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return tok != ""
}

// quantified builds `N of pattern`, `all of pattern` and `... of them`
// (them: every search identifier not starting with an underscore).
func (p *conditionParser) quantified(q, target string) (*node, error) {
	var names []string
	for name := range p.sels {
		if strings.EqualFold(target, "them") {
			if !strings.HasPrefix(name, "_") {
				names = append(names, name)
			}
			continue
		}
		if ok, err := path.Match(target, name); err != nil {
			return nil, skipf("invalid condition", "pattern %q: %v", target, err)
		} else if ok {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, skipf("invalid condition", "%s of %s matches no search identifier", q, target)
	}
	sort.Strings(names)
	kids := make([]*node, len(names))
	for i, n := range names {
		kids[i] = p.sels[n]
	}
	switch {
	case strings.EqualFold(q, "all"):
		return &node{op: opAnd, kids: kids}, nil
	case strings.EqualFold(q, "any") || q == "1":
		return &node{op: opOr, kids: kids}, nil
	}
	n, err := strconv.Atoi(q)
	if err != nil || n < 1 {
		return nil, skipf("invalid condition", "quantifier %q", q)
	}
	if n > len(kids) {
		return &node{op: opFalse}, nil
	}
	// At least n of k: an OR over the combinations would explode, so
	// express it as a dedicated threshold node.
	return &node{op: opAtLeast, kids: kids, n: n}, nil
}
