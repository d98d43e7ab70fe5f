package query

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is how a field's values compare.
type Kind int

const (
	// Keyword values match whole and case-insensitively; wildcards apply.
	Keyword Kind = iota
	// Text values (command lines, URLs, the raw record) match when they
	// contain the value, case-insensitively; wildcards match the whole value.
	Text
	// Int values are 64-bit integers; ranges compare numerically.
	Int
	// Time values are timestamps; values are RFC 3339, a date, or now-15m.
	Time
	// KeywordList values are lists of keywords (event.category); a match on
	// any element matches.
	KeywordList
)

// Column is how one field is read in SQL. Expr is trusted SQL written by the
// program (never derived from user input); its '?' placeholders take Args.
type Column struct {
	Expr string
	Args []any
	Kind Kind
}

// Catalog resolves field names to columns. It promises that every Expr it
// returns is a fixed, program-written SQL expression: user input only ever
// selects among them or travels in Args.
type Catalog interface {
	// Column returns the column for a field, false when the field is unknown.
	Column(field string) (Column, bool)
	// Raw is the column bare words and phrases are searched in.
	Raw() Column
	// Suggest returns known field names close to an unknown one, for hints.
	Suggest(field string) []string
}

// SQL is a compiled WHERE fragment and its positional ('?') arguments.
type SQL struct {
	Where string
	Args  []any
	// Words is what a word index can check before reading raw records: a
	// record matches only if, for every clause, it holds all the index keys
	// (WordKeys) of at least one of the clause's bare words or phrases. Nil
	// when the query needs no bare word (then it says nothing about which
	// records to read). It is implied by Where, never a condition of its own.
	Words [][]string
	// WordsOnly is the parsed query itself when it is nothing but single
	// bare words (IsSingleWord) joined by AND, OR and NOT: whether a
	// record matches then depends only on which words it holds, so an
	// index of words can count matches without reading records. Nil
	// otherwise. Code that adds conditions to Where must leave it nil.
	WordsOnly Node
	// Split is set when the query is an AND of words-only terms (as
	// WordsOnly) and other conditions: a record matches when it holds the
	// words and Rest matches it, so a word index can answer the words and
	// SQL the rest without reading raw records. Nil otherwise (and when
	// WordsOnly is set). Code that adds conditions to Where must leave it
	// nil.
	Split *Split
}

// Split is a query cut into its words-only part and the rest.
type Split struct {
	Words Node
	Rest  SQL
}

// FieldError is a query naming a field that the catalogue does not know, or
// a value that does not fit the field. Pos is the 0-based byte offset of
// the field, or of the value when the value is wrong, as for SyntaxError.
type FieldError struct {
	Pos  int
	Msg  string
	Hint string
}

func (e *FieldError) Error() string {
	s := fmt.Sprintf("query error at position %d: %s", e.Pos, e.Msg)
	if e.Hint != "" {
		s += " (hint: " + e.Hint + ")"
	}
	return s
}

// Compiler turns parsed queries into SQL against a Catalog.
type Compiler struct {
	Catalog Catalog
	// Now is the clock for relative times (now-15m); defaults to time.Now.
	Now func() time.Time
}

// Compile parses and compiles src.
func (c *Compiler) Compile(src string) (SQL, error) {
	if len(src) > MaxQueryBytes {
		return SQL{}, &SyntaxError{Pos: MaxQueryBytes, Msg: fmt.Sprintf("query of %d bytes; at most %d", len(src), MaxQueryBytes), Hint: "search for fewer values at once"}
	}
	n, err := Parse(src)
	if err != nil {
		return SQL{}, err
	}
	return c.CompileNode(n)
}

// CompileNode compiles a parsed query.
func (c *Compiler) CompileNode(n Node) (SQL, error) {
	if c.Now == nil {
		// One clock reading for the whole query, Split.Rest included.
		now := time.Now()
		fixed := *c
		fixed.Now = func() time.Time { return now }
		c = &fixed
	}
	b := &builder{c: c}
	if err := b.node(n); err != nil {
		return SQL{}, err
	}
	out := SQL{Where: b.sb.String(), Args: b.args, Words: requiredWords(n)}
	if wordsOnly(n) {
		out.WordsOnly = n
	} else if and, ok := n.(And); ok {
		var words, rest []Node
		for _, x := range and.Nodes {
			if wordsOnly(x) {
				words = append(words, x)
			} else {
				rest = append(rest, x)
			}
		}
		if len(words) > 0 && len(rest) > 0 {
			r, err := c.CompileNode(andOf(rest))
			if err != nil {
				return SQL{}, err
			}
			out.Split = &Split{Words: andOf(words), Rest: r}
		}
	}
	return out, nil
}

func andOf(nodes []Node) Node {
	if len(nodes) == 1 {
		return nodes[0]
	}
	return And{Nodes: nodes}
}

// wordsOnly reports whether n is made of single bare words, AND, OR and
// NOT alone.
func wordsOnly(n Node) bool {
	switch n := n.(type) {
	case Match:
		return n.Field == "" && n.Like == "" && IsSingleWord(n.Value)
	case Not:
		return wordsOnly(n.Node)
	case And:
		return len(n.Nodes) > 0 && !slices.ContainsFunc(n.Nodes, func(x Node) bool { return !wordsOnly(x) })
	case Or:
		return len(n.Nodes) > 0 && !slices.ContainsFunc(n.Nodes, func(x Node) bool { return !wordsOnly(x) })
	}
	return false
}

// requiredWords returns clauses of bare words that every match holds as
// whole words (see SQL.Words). Weakening is always safe: a clause may be
// dropped, or given more alternatives, without losing a match.
func requiredWords(n Node) [][]string {
	switch n := n.(type) {
	case Match:
		if n.Field == "" && n.Like == "" && len(WordKeys(n.Value)) > 0 {
			return [][]string{{n.Value}}
		}
	case And:
		var out [][]string
		for _, x := range n.Nodes {
			out = append(out, requiredWords(x)...)
		}
		return out
	case Or:
		// Every alternative must require something; one clause of each
		// (any one is implied by it) makes the alternatives.
		var clause []string
		for _, x := range n.Nodes {
			w := requiredWords(x)
			if len(w) == 0 {
				return nil
			}
			clause = append(clause, w[0]...)
		}
		return [][]string{clause}
	}
	return nil
}

type builder struct {
	c    *Compiler
	sb   strings.Builder
	args []any
	// readsText is set when the current term reads a text column or the
	// JSON document; textTerms counts such terms.
	readsText bool
	textTerms int
}

func (b *builder) col(col Column) {
	b.sb.WriteString(col.Expr)
	b.args = append(b.args, col.Args...)
	if col.Kind == Text || len(col.Args) > 0 {
		b.readsText = true
	}
}

// term compiles one leaf of the query and counts it when it reads long
// text (raw record, command line, URL) or the JSON document: DuckDB
// notices an interrupt only between row groups (122,880 events), so the
// work left after a timeout grows with what each row costs.
func (b *builder) term(pos int, compile func() error) error {
	b.readsText = false
	if err := compile(); err != nil {
		return err
	}
	if b.readsText {
		b.textTerms++
		if b.textTerms > MaxTextTerms {
			return &FieldError{Pos: pos, Msg: fmt.Sprintf("more than %d terms that read text (words, phrases, wildcards, text fields, fields without a column)", MaxTextTerms),
				Hint: "split the search, or use fields with a column (GET /api/fields)"}
		}
	}
	return nil
}

func (b *builder) arg(v any) {
	b.sb.WriteByte('?')
	b.args = append(b.args, v)
}

func (b *builder) node(n Node) error {
	switch n := n.(type) {
	case All:
		b.sb.WriteString("TRUE")
	case And:
		return b.list(n.Nodes, " AND ")
	case Or:
		return b.list(n.Nodes, " OR ")
	case Not:
		// A missing field makes the inner test NULL; NOT must then match.
		b.sb.WriteString("(NOT coalesce(")
		if err := b.node(n.Node); err != nil {
			return err
		}
		b.sb.WriteString(", FALSE))")
	case Exists:
		return b.term(n.Pos, func() error {
			col, err := b.lookup(n.Field, n.Pos)
			if err != nil {
				return err
			}
			b.sb.WriteByte('(')
			b.col(col)
			b.sb.WriteString(" IS NOT NULL)")
			return nil
		})
	case Match:
		return b.term(n.Pos, func() error { return b.match(n) })
	case Compare:
		return b.term(n.Pos, func() error { return b.compare(n.Field, n.Op, n.Value, n.Pos) })
	case Range:
		return b.term(n.Pos, func() error { return b.rangeNode(n) })
	default:
		return fmt.Errorf("query: unknown node %T", n)
	}
	return nil
}

func (b *builder) list(nodes []Node, sep string) error {
	b.sb.WriteByte('(')
	for i, x := range nodes {
		if i > 0 {
			b.sb.WriteString(sep)
		}
		if err := b.node(x); err != nil {
			return err
		}
	}
	b.sb.WriteByte(')')
	return nil
}

func (b *builder) lookup(field string, pos int) (Column, error) {
	col, ok := b.c.Catalog.Column(field)
	if ok {
		return col, nil
	}
	hint := "see the field list (GET /api/fields)"
	if s := b.c.Catalog.Suggest(field); len(s) > 0 {
		hint = "did you mean " + strings.Join(s, ", ") + "?"
	}
	return Column{}, &FieldError{Pos: pos, Msg: fmt.Sprintf("unknown field %q", field), Hint: hint}
}

func (b *builder) match(m Match) error {
	var col Column
	if m.Field == "" {
		col = b.c.Catalog.Raw()
	} else {
		var err error
		if col, err = b.lookup(m.Field, m.Pos); err != nil {
			return err
		}
	}
	if m.Field == "" {
		// Bare words and phrases: whole words of the raw record (words.go);
		// with wildcards, anywhere in it.
		if m.Like != "" {
			return b.glob(func() { b.col(col) }, m.Like, true, m.ValuePos)
		} else {
			b.wholeWords(col, m.Value)
		}
		return nil
	}
	switch col.Kind {
	case Int:
		if m.Like != "" {
			return &FieldError{Pos: m.ValuePos, Msg: fmt.Sprintf("wildcards do not apply to the number field %s", m.Field), Hint: "use a range like [1 TO 1024]"}
		}
		v, err := strconv.ParseInt(m.Value, 10, 64)
		if err != nil {
			return &FieldError{Pos: m.ValuePos, Msg: fmt.Sprintf("%s is a number field, %q is not a number", m.Field, m.Value)}
		}
		b.sb.WriteByte('(')
		b.col(col)
		b.sb.WriteString(" = ")
		b.arg(v)
		b.sb.WriteByte(')')
	case Time:
		if m.Like != "" {
			return &FieldError{Pos: m.ValuePos, Msg: fmt.Sprintf("wildcards do not apply to the time field %s", m.Field), Hint: "use a range like [2024-01-01 TO now]"}
		}
		lo, hi, err := b.timeSpan(m.Value, m.ValuePos)
		if err != nil {
			return err
		}
		b.sb.WriteByte('(')
		b.col(col)
		b.sb.WriteString(" >= ")
		b.arg(lo)
		b.sb.WriteString(" AND ")
		b.col(col)
		b.sb.WriteString(" < ")
		b.arg(hi)
		b.sb.WriteByte(')')
	case KeywordList:
		b.sb.WriteString("(len(list_filter(")
		b.col(col)
		if m.Like != "" {
			b.sb.WriteString(`, lambda x: `)
			if err := b.glob(func() { b.sb.WriteString("x") }, m.Like, false, m.ValuePos); err != nil {
				return err
			}
			b.sb.WriteString(`)) > 0)`)
		} else {
			b.sb.WriteString(", lambda x: lower(x) = lower(")
			b.arg(m.Value)
			b.sb.WriteString("))) > 0)")
		}
	case Text:
		if m.Like != "" {
			return b.glob(func() { b.col(col) }, m.Like, false, m.ValuePos)
		} else {
			b.contains(col, m.Value)
		}
	default: // Keyword
		if m.Like != "" {
			return b.glob(func() { b.col(col) }, m.Like, false, m.ValuePos)
		}
		b.sb.WriteByte('(')
		b.col(col)
		b.sb.WriteString(" ILIKE ")
		b.arg(likeEscape(m.Value))
		b.sb.WriteString(` ESCAPE '\')`)
	}
	return nil
}

// contains is a case-insensitive substring test, written for speed on the
// raw record (measured on 10 million events): contains() when the value has
// no letters (IPs, ports, numbers: case cannot matter), else a
// case-insensitive RE2 search for the quoted literal, both several times
// faster than ILIKE '%...%' or contains(lower(...)).
func (b *builder) contains(col Column, v string) {
	if strings.ToLower(v) == strings.ToUpper(v) {
		b.sb.WriteString("contains(")
		b.col(col)
		b.sb.WriteString(", ")
		b.arg(v)
		b.sb.WriteString(")")
		return
	}
	b.sb.WriteString("regexp_matches(")
	b.col(col)
	b.sb.WriteString(", ")
	b.arg(regexp.QuoteMeta(v))
	b.sb.WriteString(", 'i')")
}

// wordEdge matches where a word cannot go on: the start or end of the text,
// or an ASCII character that is not part of a word (IsWordByte); written
// as ranges, not as a negated class, which RE2 would fold over all of
// Unicode under (?i) at every compilation.
const wordEdge = `[\x00-/:-@\[-\x60{-\x7F]`

// wholeWords matches v in col where it neither starts nor ends inside a
// longer word. The plain substring test runs first: it is several times
// faster than the regular expression with word edges, which then only
// reads the records that contain v.
func (b *builder) wholeWords(col Column, v string) {
	if v == "" {
		b.contains(col, v)
		return
	}
	re := regexp.QuoteMeta(v)
	edged := false
	if IsWordByte(v[0]) {
		re, edged = `(?:^|`+wordEdge+`)`+re, true
	}
	if IsWordByte(v[len(v)-1]) {
		re, edged = re+`(?:`+wordEdge+`|$)`, true
	}
	if !edged {
		b.contains(col, v)
		return
	}
	b.sb.WriteByte('(')
	b.contains(col, v)
	b.sb.WriteString(" AND regexp_matches(")
	b.col(col)
	b.sb.WriteString(", ")
	b.arg(re)
	b.sb.WriteString(", 'i'))")
}

func likeEscape(s string) string {
	if !strings.ContainsAny(s, `%_\`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		writeLikeLiteral(&sb, s[i])
	}
	return sb.String()
}
