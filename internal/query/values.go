package query

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

var sqlOps = map[string]string{">": " > ", ">=": " >= ", "<": " < ", "<=": " <= "}

func (b *builder) compare(field, op, value string, pos int) error {
	col, err := b.lookup(field, pos)
	if err != nil {
		return err
	}
	sqlOp, ok := sqlOps[op]
	if !ok {
		return &SyntaxError{Pos: pos, Msg: "unknown operator " + op}
	}
	// For times, "<= day" and "> day" refer to the end of the day's span.
	endOfSpan := op == "<=" || op == ">"
	v, cast, err := b.bound(col, field, value, pos, endOfSpan)
	if err != nil {
		return err
	}
	if col.Kind == Time && endOfSpan {
		sqlOp = map[string]string{"<=": " < ", ">": " >= "}[op]
	}
	b.sb.WriteByte('(')
	b.typed(col, cast)
	b.sb.WriteString(sqlOp)
	b.arg(v)
	b.sb.WriteByte(')')
	return nil
}

func (b *builder) rangeNode(r Range) error {
	col, err := b.lookup(r.Field, r.Pos)
	if err != nil {
		return err
	}
	if r.Lo == "" && r.Hi == "" {
		b.sb.WriteByte('(')
		b.col(col)
		b.sb.WriteString(" IS NOT NULL)")
		return nil
	}
	// A keyword field whose bounds are both numbers compares numerically
	// (JSON fields such as process.pid are not typed columns); mixing a
	// number and a text bound has no clear meaning and is refused.
	if col.Kind == Keyword || col.Kind == Text {
		_, e1 := strconv.ParseFloat(r.Lo, 64)
		_, e2 := strconv.ParseFloat(r.Hi, 64)
		if r.Lo != "" && r.Hi != "" && (e1 == nil) != (e2 == nil) {
			return &FieldError{Pos: r.Pos, Msg: "range bounds must both be numbers or both be text", Hint: "use * for an open end"}
		}
	}
	cast := false
	b.sb.WriteByte('(')
	first := true
	if r.Lo != "" {
		v, c, err := b.bound(col, r.Field, r.Lo, r.Pos, false)
		if err != nil {
			return err
		}
		cast = c
		b.typed(col, cast)
		if r.LoIncl {
			b.sb.WriteString(" >= ")
		} else {
			b.sb.WriteString(" > ")
		}
		b.arg(v)
		first = false
	}
	if r.Hi != "" {
		v, c, err := b.bound(col, r.Field, r.Hi, r.Pos, r.HiIncl)
		if err != nil {
			return err
		}
		if !first {
			b.sb.WriteString(" AND ")
		}
		b.typed(col, c)
		// An inclusive time bound was already turned into the end of its span.
		if r.HiIncl && col.Kind != Time {
			b.sb.WriteString(" <= ")
		} else {
			b.sb.WriteString(" < ")
		}
		b.arg(v)
	}
	b.sb.WriteByte(')')
	return nil
}

// typed writes the column, cast to a number when a keyword is compared with
// numbers.
func (b *builder) typed(col Column, castNum bool) {
	if castNum {
		b.sb.WriteString("TRY_CAST(")
		b.col(col)
		b.sb.WriteString(" AS DOUBLE)")
		return
	}
	b.col(col)
}

// bound converts a comparison value for the column's kind. For time fields
// an inclusive upper bound ("<= 2024-01-02") becomes the end of that span so
// that a date includes its whole day. It reports whether a keyword column
// must be cast to a number.
func (b *builder) bound(col Column, field, value string, pos int, inclusiveUpper bool) (any, bool, error) {
	switch col.Kind {
	case Int:
		v, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return nil, false, &FieldError{Pos: pos, Msg: fmt.Sprintf("%s is a number field, %q is not a number", field, value)}
		}
		return v, false, nil
	case Time:
		lo, hi, err := b.timeSpan(value, pos)
		if err != nil {
			return nil, false, err
		}
		if inclusiveUpper {
			return hi, false, nil
		}
		return lo, false, nil
	case KeywordList:
		return nil, false, &FieldError{Pos: pos, Msg: fmt.Sprintf("ranges do not apply to the list field %s", field)}
	}
	if f, err := strconv.ParseFloat(value, 64); err == nil {
		return f, true, nil
	}
	return value, false, nil
}

// timeSpan parses an absolute or relative time and returns the span it
// names: a date is its whole day, a minute its whole minute, an exact
// instant a span of one microsecond.
func (b *builder) timeSpan(v string, pos int) (time.Time, time.Time, error) {
	now := time.Now
	if b.c.Now != nil {
		now = b.c.Now
	}
	t, span, err := ParseTime(v, now())
	if err != nil {
		return time.Time{}, time.Time{}, &FieldError{Pos: pos, Msg: err.Error(), Hint: "use 2024-01-31, 2024-01-31T08:00:00Z or now-15m"}
	}
	return t, t.Add(span), nil
}

var timeLayouts = []struct {
	layout string
	span   time.Duration
}{
	{time.RFC3339Nano, time.Microsecond},
	{"2006-01-02T15:04:05.999999999", time.Microsecond},
	{"2006-01-02 15:04:05.999999999", time.Microsecond},
	{"2006-01-02T15:04", time.Minute},
	{"2006-01-02 15:04", time.Minute},
	{"2006-01-02", 24 * time.Hour},
}

// ParseTime parses RFC 3339 (UTC when no zone is given), a date, "now" or
// "now-15m" / "now-2h" / "now-7d" / "now-1w". It returns the instant and the
// length of the span the text names (a date names a day).
func ParseTime(v string, now time.Time) (time.Time, time.Duration, error) {
	if strings.HasPrefix(v, "now") {
		rest := v[3:]
		if rest == "" {
			return now.UTC(), time.Microsecond, nil
		}
		if len(rest) < 3 || (rest[0] != '-' && rest[0] != '+') {
			return time.Time{}, 0, fmt.Errorf("bad relative time %q", v)
		}
		n, err := strconv.Atoi(rest[1 : len(rest)-1])
		if err != nil || n < 0 {
			return time.Time{}, 0, fmt.Errorf("bad relative time %q", v)
		}
		var unit time.Duration
		switch rest[len(rest)-1] {
		case 's':
			unit = time.Second
		case 'm':
			unit = time.Minute
		case 'h':
			unit = time.Hour
		case 'd':
			unit = 24 * time.Hour
		case 'w':
			unit = 7 * 24 * time.Hour
		default:
			return time.Time{}, 0, fmt.Errorf("bad time unit in %q (use s, m, h, d or w)", v)
		}
		d := time.Duration(n) * unit
		if rest[0] == '-' {
			d = -d
		}
		return now.Add(d).UTC(), time.Microsecond, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l.layout, v); err == nil {
			return t.UTC(), l.span, nil
		}
	}
	return time.Time{}, 0, fmt.Errorf("%q is not a time", v)
}
