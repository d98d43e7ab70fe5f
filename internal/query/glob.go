package query

import (
	"fmt"
	"regexp"
	"strings"
)

// Wildcards (* and ?) are not compiled to LIKE: DuckDB evaluates LIKE and
// ILIKE by backtracking, exponential in the number of '%' on text that
// almost matches (`*a*a*a*a*a*a*a*a*b` on one 2.5 KB raw record: minutes,
// inside one vector, where an interrupt is not even seen). They are
// compiled to an RE2 regular expression instead, which DuckDB runs in time
// linear in the text (a DFA, or an NFA when the DFA would be too large).

// MaxWildcards bounds the wildcards (* and ?) of one value: RE2 stays
// linear in the text, but its cost per byte grows with the pattern.
const MaxWildcards = 32

// MaxQueryBytes bounds the length of a query.
const MaxQueryBytes = 8 << 10

// MaxTextTerms bounds the terms of one query that read long text (bare
// words and phrases, wildcards, text fields such as message or
// process.command_line) or the JSON document (fields without a column).
const MaxTextTerms = 16

// globRegexp turns a LIKE pattern (as the parser writes it: '%' any run,
// '_' one character, '\' escapes the next byte) into an equivalent RE2
// expression, anchored at the start and end of the text unless the
// pattern starts or ends with '%'. Consecutive '%' are one. n is the number
// of wildcards.
func globRegexp(like string) (re string, n int) {
	type token struct {
		star, one bool
		lit       string
	}
	var toks []token
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			toks = append(toks, token{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(like); i++ {
		switch c := like[i]; c {
		case '\\':
			if i+1 < len(like) {
				i++
				lit.WriteByte(like[i])
			} else {
				lit.WriteByte(c)
			}
		case '%':
			flush()
			n++
			if len(toks) == 0 || !toks[len(toks)-1].star {
				toks = append(toks, token{star: true})
			}
		case '_':
			flush()
			n++
			toks = append(toks, token{one: true})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	var sb strings.Builder
	sb.WriteString("(?s)")
	if len(toks) == 0 || !toks[0].star {
		sb.WriteByte('^')
	}
	for i, t := range toks {
		switch {
		case t.star:
			if i > 0 && i < len(toks)-1 {
				sb.WriteString(".*")
			}
		case t.one:
			sb.WriteByte('.')
		default:
			sb.WriteString(regexp.QuoteMeta(t.lit))
		}
	}
	if len(toks) == 0 || !toks[len(toks)-1].star {
		sb.WriteByte('$')
	}
	return sb.String(), n
}

// glob writes a case-insensitive wildcard match of expr (SQL already
// written by the program, such as a column or a lambda variable) against
// the LIKE pattern like: the whole value, or anywhere in it when inside.
func (b *builder) glob(expr func(), like string, inside bool, pos int) error {
	_, n := globRegexp(like)
	if inside {
		like = "%" + like + "%"
	}
	re, _ := globRegexp(like)
	if n > MaxWildcards {
		return &FieldError{Pos: pos, Msg: fmt.Sprintf("%d wildcards in one value; at most %d", n, MaxWildcards),
			Hint: `use fewer * and ?, or quote the value ("a*b" is literal)`}
	}
	b.sb.WriteString("regexp_matches(")
	expr()
	b.sb.WriteString(", ")
	b.arg(re)
	b.sb.WriteString(", 'i')")
	return nil
}
