package store

import (
	"errors"
	"math/bits"

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

// buckets are consecutive time buckets within the range [from, to) (µs).
type buckets struct {
	from, to     int64
	start, width int64
	counts       []int64
}

func (b *buckets) index(ts int64) int { return int((ts - b.start) / b.width) }

// countExact counts into bk the matches of f that postings answer, and
// returns the filter of the events left for SQL and the number of blocks
// the postings answered. ok is false when postings do not apply (bk is
// then untouched).
func (s *Store) countExact(f Filter, bk *buckets) (rest Filter, answered int, ok bool) {
	expr := f.Where.WordsOnly
	if expr == nil {
		return f, 0, false
	}
	counts := make([]int64, len(bk.counts))
	ev := &wordEval{w: s.words, keys: map[string]uint64{}}
	collectKeys(expr, ev.keys)
	handled := func(b uint64, info blockInfo) (bool, error) {
		done, err := ev.countBlock(b, info, expr, bk, counts)
		if done {
			answered++
		}
		return done, err
	}
	ranges, narrowed, err := s.words.candidates(f.From, f.To, wordClauses(f.Where.Words), handled)
	if err != nil {
		s.log.Warn("store: word index unreadable; searching every record", "err", err)
		return f, 0, false
	}
	if len(ranges) > maxExactRanges {
		return f, 0, false
	}
	for i, c := range counts {
		bk.counts[i] += c
	}
	if !narrowed {
		return f, answered, true
	}
	return restrictTo(f, ranges), answered, true
}

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

// countBlock counts block b's matches into counts; false when its postings
// cannot answer.
func (e *wordEval) countBlock(b uint64, info blockInfo, expr query.Node, bk *buckets, counts []int64) (bool, error) {
	p, err := e.w.openPostings(b)
	if err != nil {
		// None yet, or unreadable (rewritten by the indexer later):
		// SQL reads the block.
		return false, nil
	}
	defer p.Close()
	present, err := p.presentRows()
	if err != nil {
		return false, nil
	}
	m, known, err := e.eval(p, b, info, expr, present)
	if err != nil || !known {
		return false, nil
	}
	n := m.count()
	if n == 0 {
		return true, nil
	}
	if p.minTS >= bk.from && p.maxTS < bk.to && bk.index(p.minTS) == bk.index(p.maxTS) {
		counts[bk.index(p.minTS)] += int64(n)
		return true, nil
	}
	ts, err := p.timestamps(present)
	if err != nil {
		return false, nil
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
	return true, nil
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
