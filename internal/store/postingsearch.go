package store

import (
	"context"
	"errors"
	"math/bits"
	"time"

	"github.com/defender-intake/defender-intake/internal/query"
)

// Counting with postings (postings.go): a query made of single bare words
// alone (query.SQL.WordsOnly) is evaluated on the rows of each block's
// words, as bitmaps, and the matches are counted per time bucket from the
// rows' timestamps. Blocks the postings cannot answer (no file yet, or a
// word in one record only, which the postings leave out) are left to SQL,
// restricted to those blocks.

// maxExactRanges bounds the id ranges left to SQL next to postings; they
// cannot be merged over blocks the postings counted.
const maxExactRanges = 4 * maxRanges

// buckets are consecutive time buckets within the range [from, to) (µs):
// of width µs from start, or, when months is not 0, of that many calendar
// months from the month startMonth (months since year 0, see monthOf).
type buckets struct {
	from, to     int64
	start, width int64
	months       int64
	startMonth   int64
	counts       []int64
}

func (b *buckets) index(ts int64) int {
	if b.months > 0 {
		return int((monthOf(time.UnixMicro(ts).UTC()) - b.startMonth) / b.months)
	}
	return int((ts - b.start) / b.width)
}

// sqlIndex is index in SQL, over the column ts.
func (b *buckets) sqlIndex() (string, []any) {
	if b.months > 0 {
		return "((year(ts) * 12 + month(ts) - 1 - ?) // ?)::BIGINT", []any{b.startMonth, b.months}
	}
	return "((epoch_us(ts) - ?) // ?)::BIGINT", []any{b.start, b.width}
}

// postingsPlan is how a query with words is read with the postings: the
// words-only part, the other conditions of a split query, and what SQL
// must still read.
type postingsPlan struct {
	words query.Node
	other query.SQL // Where empty: none (a words-only query)
	// ranges are the ids SQL reads with the whole query (narrowed false:
	// every id of the range); answered counts the blocks postings answered.
	ranges   []idRange
	narrowed bool
	answered int
}

// planPostings asks answer about every block of f's range that the
// filters do not rule out: true when the block's postings answered it
// (answer keeps what it needs), false to leave it to SQL. ok is false when
// postings do not apply to f.
func (s *Store) planPostings(f Filter, answer func(ev *wordEval, b uint64, info blockInfo, words query.Node) bool) (plan postingsPlan, ok bool) {
	switch {
	case f.Where.WordsOnly != nil:
		plan.words = f.Where.WordsOnly
	case f.Where.Split != nil:
		plan.words, plan.other = f.Where.Split.Words, f.Where.Split.Rest
	default:
		return plan, false
	}
	ev := &wordEval{w: s.words, keys: map[string]uint64{}}
	collectKeys(plan.words, ev.keys)
	handled := func(b uint64, info blockInfo) (bool, error) {
		done := answer(ev, b, info, plan.words)
		if done {
			plan.answered++
		}
		return done, nil
	}
	var err error
	plan.ranges, plan.narrowed, err = s.words.candidates(f.From, f.To, wordClauses(f.Where.Words), handled)
	if err != nil {
		s.log.Warn("store: word index unreadable; searching every record", "err", err)
		return plan, false
	}
	// Ranges next to answered blocks cannot be merged.
	return plan, len(plan.ranges) <= maxExactRanges
}

// rest is f restricted to what SQL must still read.
func (p postingsPlan) rest(f Filter) Filter {
	if !p.narrowed {
		return f
	}
	return restrictTo(f, p.ranges)
}

// collectRows is a planPostings answer that keeps the rows of each block
// the postings answer (blocks without a match left out).
func collectRows(rows map[uint64]bitmap) func(*wordEval, uint64, blockInfo, query.Node) bool {
	return func(ev *wordEval, b uint64, info blockInfo, words query.Node) bool {
		m, done := ev.blockRows(b, info, words)
		if done && m.count() > 0 {
			rows[b] = m
		}
		return done
	}
}

// countExact counts into bk the matches of f that postings answer, and
// returns the filter of the events left for SQL and the number of blocks
// the postings answered. ok is false when postings do not apply (bk is
// then untouched).
//
// A words-only query is counted from the postings alone. A split query
// (words and other conditions) is counted by SQL on the rows the postings
// found, which DuckDB gets as a bit string: no raw record is read.
func (s *Store) countExact(ctx context.Context, f Filter, bk *buckets) (rest Filter, answered int, ok bool, err error) {
	counts := make([]int64, len(bk.counts))
	rows := map[uint64]bitmap{}
	collect := collectRows(rows)
	plan, ok := s.planPostings(f, func(ev *wordEval, b uint64, info blockInfo, words query.Node) bool {
		if f.Where.WordsOnly != nil {
			return ev.countBlock(b, info, words, bk, counts)
		}
		return collect(ev, b, info, words)
	})
	if !ok {
		return f, 0, false, nil
	}
	if len(rows) > 0 {
		if err := s.countOther(ctx, f, plan.other, rows, bk, counts); errors.Is(err, errTooManyIDs) {
			return f, 0, false, nil
		} else if err != nil {
			return f, 0, false, err
		}
	}
	for i, c := range counts {
		bk.counts[i] += c
	}
	return plan.rest(f), plan.answered, true, nil
}

// countOther counts the rows of rows' blocks that match other, with SQL
// (the rows go to DuckDB as a bit string, postingstop.go).
func (s *Store) countOther(ctx context.Context, f Filter, other query.SQL, rows map[uint64]bitmap, bk *buckets, counts []int64) error {
	lo, hi, bits, ok := bitsOf(rows)
	if !ok {
		return errTooManyIDs
	}
	where, args := bitsWhere(f, other, lo, hi, bits)
	return s.countBuckets(ctx, where, args, bk, counts)
}

var errTooManyIDs = errors.New("store: too many ids for a bit string")

func collectKeys(n query.Node, keys map[string]uint64) {
	switch n := n.(type) {
	case query.Match:
		keys[n.Value] = query.WordKeys(n.Value)[0]
	case query.Not:
		collectKeys(n.Node, keys)
	case query.And:
		for _, x := range n.Nodes {
			collectKeys(x, keys)
		}
	case query.Or:
		for _, x := range n.Nodes {
			collectKeys(x, keys)
		}
	}
}

// wordEval evaluates a words-only query on blocks.
type wordEval struct {
	w    *wordIndex
	keys map[string]uint64
}

// blockRows returns the rows of block b matching expr; false when its
// postings cannot answer.
func (e *wordEval) blockRows(b uint64, info blockInfo, expr query.Node) (bitmap, bool) {
	p, err := e.w.openPostings(b)
	if err != nil {
		// None yet, or unreadable (rewritten by the indexer later):
		// SQL reads the block.
		return nil, false
	}
	defer p.Close()
	m, _, known := e.evalBlock(p, b, info, expr)
	return m, known
}

// evalBlock evaluates expr on an open postings file; it also returns the
// rows present.
func (e *wordEval) evalBlock(p *postingsFile, b uint64, info blockInfo, expr query.Node) (m, present bitmap, known bool) {
	present, err := p.presentRows()
	if err != nil {
		return nil, nil, false
	}
	m, known, err = e.eval(p, b, info, expr, present)
	if err != nil || !known {
		return nil, nil, false
	}
	return m, present, true
}

// countBlock counts block b's matches into counts; false when its postings
// cannot answer.
func (e *wordEval) countBlock(b uint64, info blockInfo, expr query.Node, bk *buckets, counts []int64) bool {
	p, err := e.w.openPostings(b)
	if err != nil {
		return false
	}
	defer p.Close()
	m, present, known := e.evalBlock(p, b, info, expr)
	if !known {
		return false
	}
	n := m.count()
	if n == 0 {
		return true
	}
	if p.minTS >= bk.from && p.maxTS < bk.to && bk.index(p.minTS) == bk.index(p.maxTS) {
		counts[bk.index(p.minTS)] += int64(n)
		return true
	}
	ts, err := p.timestamps(present)
	if err != nil {
		return false
	}
	for i, word := range m {
		for word != 0 {
			r := i*64 + bits.TrailingZeros64(word)
			word &= word - 1
			if t := ts[r]; t >= bk.from && t < bk.to {
				counts[bk.index(t)]++
			}
		}
	}
	return true
}

// eval returns the rows of the block matching n; known is false when the
// postings cannot tell (a word they leave out that the filter does not
// rule out).
func (e *wordEval) eval(p *postingsFile, b uint64, info blockInfo, n query.Node, present bitmap) (bitmap, bool, error) {
	switch n := n.(type) {
	case query.Match:
		key := e.keys[n.Value]
		m, found, err := p.rows(key)
		if err != nil || found {
			return m, found, err
		}
		// In at most one record of the block: unknown, unless the
		// filter says it is in none.
		may, err := e.w.mayMatch(b, info, [][][]uint64{{{key}}})
		if err != nil || may {
			return nil, false, err
		}
		return newBitmap(p.slots), true, nil
	case query.Not:
		m, known, err := e.eval(p, b, info, n.Node, present)
		if err != nil || !known {
			return nil, false, err
		}
		for i := range m {
			m[i] = present[i] &^ m[i]
		}
		return m, true, nil
	case query.And:
		out := append(bitmap(nil), present...)
		unknown := false
		for _, x := range n.Nodes {
			m, known, err := e.eval(p, b, info, x, present)
			if err != nil {
				return nil, false, err
			}
			if !known {
				unknown = true
				continue
			}
			for i := range out {
				out[i] &= m[i]
			}
		}
		if unknown && out.count() > 0 {
			return nil, false, nil
		}
		return out, true, nil
	case query.Or:
		out := newBitmap(p.slots)
		for _, x := range n.Nodes {
			m, known, err := e.eval(p, b, info, x, present)
			if err != nil || !known {
				return nil, false, err
			}
			for i := range out {
				out[i] |= m[i]
			}
		}
		return out, true, nil
	}
	return nil, false, errors.New("store: not a words-only query")
}
