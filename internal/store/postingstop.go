package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/defender-intake/defender-intake/internal/query"
)

// SQL over the rows the postings found (postings.go): the rows of the
// blocks they answered go to DuckDB as one bit string over the ids those
// blocks span, tested with get_bit, so that SQL counts or groups them
// without reading a raw record; the blocks they could not answer are read
// as before. Used for the other conditions of a split query (countOther)
// and for top values.

// bitsOf packs the rows of blocks into a bit string over the ids from lo
// to hi (the most significant bit first, DuckDB's order for BIT): bit i
// is id lo+i. ok is false when there are none, or too many ids for
// get_bit's 32-bit index.
func bitsOf(rows map[uint64]bitmap) (lo, hi uint64, bits []byte, ok bool) {
	first, last := uint64(1<<63), uint64(0)
	for b := range rows {
		first, last = min(first, b), max(last, b)
	}
	if len(rows) == 0 {
		return 0, 0, nil, false
	}
	lo, _ = blockIDs(first)
	_, hi = blockIDs(last)
	if hi-lo >= 1<<31 {
		return 0, 0, nil, false
	}
	bits = make([]byte, (hi-lo+1+7)/8)
	for b, m := range rows {
		base, _ := blockIDs(b)
		base -= lo
		for i, w := range m {
			for j := 0; j < 64 && w != 0; j, w = j+8, w>>8 {
				// Row i*64+j.. is id lo+base+i*64+j..; bytes are whole
				// since blocks start on multiples of 64 ids.
				at := (base + uint64(i*64+j)) / 8
				bits[at] = reverseBits[byte(w)]
			}
		}
	}
	return lo, hi, bits, true
}

// reverseBits maps a byte of a bitmap (row r in bit r) to DuckDB's order
// (row r in bit 7-r).
var reverseBits = func() (t [256]byte) {
	for i := range t {
		for j := 0; j < 8; j++ {
			if i&(1<<j) != 0 {
				t[i] |= 0x80 >> j
			}
		}
	}
	return t
}()

// bitsWhere is the WHERE clause of the ids set in bits (from lo) that match
// other in f's time range.
func bitsWhere(f Filter, other query.SQL, lo, hi uint64, bits []byte) (string, []any) {
	w := other.Where
	if w == "" {
		w = "TRUE"
	}
	args := append([]any{f.From.UTC(), f.To.UTC(), lo, hi}, other.Args...)
	return "ts >= ? AND ts < ? AND id BETWEEN ?::UBIGINT AND ?::UBIGINT AND (" + w + ") AND get_bit(?::BIT, (id - ?::UBIGINT)::INTEGER) = 1",
		append(args, bits, lo)
}

// topWithPostings returns what topSQL returns, for a query with words the
// postings answer; ok is false when they do not apply.
func (s *Store) topWithPostings(ctx context.Context, field string, col query.Column, expr string, f Filter, n int) (vals []TopValue, ok bool, err error) {
	rows := map[uint64]bitmap{}
	plan, ok := s.planPostings(f, collectRows(rows))
	if !ok {
		return nil, false, nil
	}
	lo, hi, bits, haveBits := bitsOf(rows)
	if !haveBits && len(rows) > 0 {
		return nil, false, nil
	}
	// The matches, as the union of the rows the postings found and those
	// SQL finds in the blocks they could not answer.
	union := func(sel string, selArgs []any) (string, []any) {
		var q string
		var args []any
		if haveBits {
			w, a := bitsWhere(f, plan.other, lo, hi, bits)
			q = "SELECT " + sel + " FROM events WHERE " + w
			args = append(append(args, selArgs...), a...)
		}
		if !plan.narrowed || len(plan.ranges) > 0 {
			w, a := plan.rest(f).where()
			if q != "" {
				q += " UNION ALL "
			}
			q += "SELECT " + sel + " FROM events WHERE " + w
			args = append(append(args, selArgs...), a...)
		}
		if q == "" {
			q = "SELECT " + sel + " FROM events WHERE FALSE"
			args = append(args, selArgs...)
		}
		return q, args
	}
	var q string
	var args []any
	if TopIsSampled(col) {
		u, ua := union("id, ts", nil)
		q = "SELECT v, count(*) AS c FROM (SELECT " + expr + " AS v FROM events WHERE ts >= ? AND ts < ? AND id IN (SELECT id FROM (" + u + ") ORDER BY ts DESC LIMIT " + strconv.Itoa(topSample) + ")) WHERE v IS NOT NULL GROUP BY v ORDER BY c DESC, v LIMIT ?"
		args = append(append(append(append([]any{}, col.Args...), f.From.UTC(), f.To.UTC()), ua...), n)
	} else {
		u, ua := union(expr+" AS v", col.Args)
		q = "SELECT v, count(*) AS c FROM (" + u + ") WHERE v IS NOT NULL GROUP BY v ORDER BY c DESC, v LIMIT ?"
		args = append(ua, n)
	}
	res, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, false, fmt.Errorf("store: top values of %s: %w", field, err)
	}
	defer res.Close()
	vals = []TopValue{}
	for res.Next() {
		var tv TopValue
		if err := res.Scan(&tv.Value, &tv.Count); err != nil {
			return nil, false, fmt.Errorf("store: top values of %s: %w", field, err)
		}
		vals = append(vals, tv)
	}
	return vals, true, res.Err()
}
