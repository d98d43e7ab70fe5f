package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/defender-intake/defender-intake/internal/query"
)

// Top values of a query with words the postings answer (postings.go):
// counting every match of a common word would read every raw record, so the
// values are counted in the newest matches instead, as for fields without
// a typed column. Blocks are read newest first until they hold TopSample
// matches; SQL reads the blocks the postings cannot answer (the newest,
// not yet indexed events, mostly) whole.

// topWithPostings returns the n most frequent values of expr (a column
// expression with its arguments) among matches of f; ok is false when the
// postings do not apply. sampled tells whether older matches were left out.
func (s *Store) topWithPostings(ctx context.Context, expr string, exprArgs []any, f Filter, n int) (vals []TopValue, sampled, ok bool, err error) {
	words, other := f.Where.WordsOnly, query.SQL{}
	if words == nil && f.Where.Split != nil {
		words, other = f.Where.Split.Words, f.Where.Split.Rest
	}
	if words == nil {
		return nil, false, false, nil
	}
	ev := &wordEval{w: s.words, keys: map[string]uint64{}}
	collectKeys(words, ev.keys)
	rows := map[uint64]bitmap{}
	handled := func(b uint64, info blockInfo) (bool, error) {
		m, done := ev.blockRows(b, info, words)
		if done && m.count() > 0 {
			rows[b] = m
		}
		return done, nil
	}
	ranges, narrowed, err := s.words.candidates(f.From, f.To, wordClauses(f.Where.Words), handled)
	if err != nil || len(ranges) > maxExactRanges {
		return nil, false, false, nil
	}
	counts := map[string]int64{}
	// What the postings cannot answer: every match, with SQL.
	rest := f
	if narrowed {
		rest = restrictTo(f, ranges)
	}
	where, args := rest.where()
	res, err := s.db.QueryContext(ctx, "SELECT v, count(*) FROM (SELECT "+expr+" AS v FROM events WHERE "+where+") WHERE v IS NOT NULL GROUP BY v",
		append(append([]any{}, exprArgs...), args...)...)
	if err != nil {
		return nil, false, false, fmt.Errorf("store: top values: %w", err)
	}
	var seen int64
	for res.Next() {
		var v string
		var c int64
		if err := res.Scan(&v, &c); err != nil {
			res.Close()
			return nil, false, false, fmt.Errorf("store: top values: %w", err)
		}
		counts[v] += c
		seen += c
	}
	res.Close()
	if err := res.Err(); err != nil {
		return nil, false, false, fmt.Errorf("store: top values: %w", err)
	}
	// The newest answered blocks holding TopSample matches (fewer when
	// other conditions or the time range leave some out).
	blocks := make([]uint64, 0, len(rows))
	for b := range rows {
		blocks = append(blocks, b)
	}
	slices.SortFunc(blocks, func(a, b uint64) int { return cmp.Compare(b, a) })
	take := 0
	for take < len(blocks) && seen < int64(topSample) {
		seen += int64(rows[blocks[take]].count())
		take++
	}
	sampled = take < len(blocks)
	if take > 0 {
		if err := s.countValues(ctx, expr, exprArgs, f, other, blocks[:take], rows, counts); err != nil {
			return nil, false, false, err
		}
	}
	for v, c := range counts {
		vals = append(vals, TopValue{Value: v, Count: c})
	}
	slices.SortFunc(vals, func(a, b TopValue) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Value, b.Value)
	})
	if len(vals) > n {
		vals = vals[:n]
	}
	if vals == nil {
		vals = []TopValue{}
	}
	return vals, sampled, true, nil
}

// countValues adds to counts the values of expr in the rows of blocks that
// are in rows and match other.
func (s *Store) countValues(ctx context.Context, expr string, exprArgs []any, f Filter, other query.SQL, blocks []uint64, rows map[uint64]bitmap, counts map[string]int64) error {
	ranges := make([]idRange, 0, len(blocks))
	for _, b := range blocks { // newest first
		lo, hi := blockIDs(b)
		if n := len(ranges); n > 0 && ranges[n-1].lo == hi+1 {
			ranges[n-1].lo = lo
			continue
		}
		ranges = append(ranges, idRange{lo, hi})
	}
	where, args := restrictTo(Filter{Where: other, From: f.From, To: f.To}, mergeRanges(ranges, maxRanges)).where()
	res, err := s.db.QueryContext(ctx, "SELECT id, "+expr+" FROM events WHERE "+where, append(append([]any{}, exprArgs...), args...)...)
	if err != nil {
		return fmt.Errorf("store: top values: %w", err)
	}
	defer res.Close()
	for res.Next() {
		var id uint64
		var v sql.NullString
		if err := res.Scan(&id, &v); err != nil {
			return fmt.Errorf("store: top values: %w", err)
		}
		b := blockOf(id)
		lo, _ := blockIDs(b)
		if m := rows[b]; v.Valid && m != nil && m.has(int(id-lo)) {
			counts[v.String]++
		}
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("store: top values: %w", err)
	}
	return nil
}
