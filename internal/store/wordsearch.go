package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/defender-intake/defender-intake/internal/query"
)

// Searching with the word index: which id ranges a query with required
// bare words must read (wordindex.go has the index itself).

// idRange is an inclusive range of ids; hi == 0 means no upper bound.
type idRange struct{ lo, hi uint64 }

// maxRanges bounds the ranges a narrowed query lists; beyond it the closest
// ranges are merged (reading a few more blocks).
const maxRanges = 64

// narrow restricts f to the ids whose block filters do not rule out its
// required bare words (query.SQL.Words). The result matches exactly the
// same events; it only lets DuckDB skip the others.
func (s *Store) narrow(f Filter) Filter {
	if len(f.Where.Words) == 0 {
		return f
	}
	ranges, narrowed, err := s.words.candidates(f.From, f.To, wordClauses(f.Where.Words), nil)
	if err != nil {
		s.log.Warn("store: word index unreadable; searching every record", "err", err)
		return f
	}
	if !narrowed {
		return f
	}
	return restrictTo(f, mergeRanges(ranges, maxRanges))
}

// wordClauses are the index keys of required words (query.SQL.Words).
func wordClauses(words [][]string) [][][]uint64 {
	clauses := make([][][]uint64, 0, len(words))
	for _, alts := range words {
		keys := make([][]uint64, 0, len(alts))
		for _, w := range alts {
			keys = append(keys, query.WordKeys(w))
		}
		clauses = append(clauses, keys)
	}
	return clauses
}

// restrictTo adds to f the condition that ids are in ranges (none: no event).
func restrictTo(f Filter, ranges []idRange) Filter {
	orig := f.Where
	if orig.Where == "" {
		orig.Where = "TRUE"
	}
	if len(ranges) == 0 {
		f.Where = query.SQL{Where: "FALSE"}
		return f
	}
	var b strings.Builder
	args := make([]any, 0, 2*len(ranges)+len(orig.Args))
	b.WriteByte('(')
	for i, r := range ranges {
		if i > 0 {
			b.WriteString(" OR ")
		}
		if r.hi == 0 {
			b.WriteString("id >= ?::UBIGINT")
			args = append(args, r.lo)
		} else {
			b.WriteString("id BETWEEN ?::UBIGINT AND ?::UBIGINT")
			args = append(args, r.lo, r.hi)
		}
	}
	b.WriteString(") AND (" + orig.Where + ")")
	f.Where = query.SQL{Where: b.String(), Args: append(args, orig.Args...)}
	return f
}

// blockHandler answers a block of the time range some other way than SQL
// (postings); true when it did, so that SQL leaves the block out.
type blockHandler func(b uint64, info blockInfo) (bool, error)

// candidates returns the id ranges that may hold a match of clauses (keys
// of a required word, per alternative, per clause) in [from, to), leaving
// out the blocks handled answers (handled may be nil; it is asked about
// the blocks the filters do not rule out). narrowed is false
// when every block is left to SQL (no restriction is worth adding).
func (w *wordIndex) candidates(from, to time.Time, clauses [][][]uint64, handled blockHandler) (ranges []idRange, narrowed bool, err error) {
	w.mu.RLock()
	blocks := make([]uint64, 0, len(w.blocks))
	infos := make(map[uint64]blockInfo, len(w.blocks))
	for b, info := range w.blocks {
		blocks = append(blocks, b)
		infos[b] = info
	}
	w.mu.RUnlock()
	slices.Sort(blocks)
	lo, hi := from.UnixMicro(), to.UnixMicro()
	var next uint64 = 1 // first id not yet placed
	skipped := false
	include := func(r idRange) {
		if n := len(ranges); n > 0 && ranges[n-1].hi+1 == r.lo {
			ranges[n-1].hi = r.hi
			return
		}
		ranges = append(ranges, r)
	}
	for _, b := range blocks {
		bl, bh := blockIDs(b)
		if bl > next { // ids no filter covers
			include(idRange{next, bl - 1})
		}
		next = bh + 1
		info := infos[b]
		if info.events == 0 || info.maxTS < lo || info.minTS >= hi {
			skipped = true
			continue
		}
		may, err := w.mayMatch(b, info, clauses)
		if err != nil {
			return nil, false, err
		}
		if !may {
			skipped = true
			continue
		}
		if handled != nil {
			done, err := handled(b, info)
			if err != nil {
				return nil, false, err
			}
			if done {
				skipped = true
				continue
			}
		}
		include(idRange{bl, bh})
	}
	if !skipped {
		return nil, false, nil
	}
	include(idRange{next, 0}) // the newest events, not indexed yet
	return ranges, true, nil
}

// mergeRanges merges the closest ranges until at most max are left (so
// that SQL reads a few more blocks).
func mergeRanges(ranges []idRange, max int) []idRange {
	for len(ranges) > max {
		best := 0
		for i := 1; i+1 < len(ranges); i++ {
			if ranges[i+1].lo-ranges[i].hi < ranges[best+1].lo-ranges[best].hi {
				best = i
			}
		}
		ranges[best].hi = ranges[best+1].hi
		ranges = slices.Delete(ranges, best+1, best+2)
	}
	return ranges
}

// mayMatch probes block b's filter: every clause needs one alternative
// whose keys may all be in the block.
func (w *wordIndex) mayMatch(b uint64, info blockInfo, clauses [][][]uint64) (bool, error) {
	f, err := os.Open(w.path(b))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			// Removed by retention meanwhile (no events left) or by hand:
			// read the block rather than miss a match.
			return true, nil
		}
		return false, fmt.Errorf("store: read word index: %w", err)
	}
	defer f.Close()
	var buf [8]byte
	probe := func(key uint64) (bool, error) {
		if _, err := f.ReadAt(buf[:], int64(indexHeader+8*wordOf(key, info.words))); err != nil {
			return false, fmt.Errorf("store: read word index of block %d: %w", b, err)
		}
		m := keyBits(key)
		return binary.LittleEndian.Uint64(buf[:])&m == m, nil
	}
	for _, alts := range clauses {
		found := false
		for _, keys := range alts {
			all := true
			for _, k := range keys {
				ok, err := probe(k)
				if err != nil {
					return false, err
				}
				if !ok {
					all = false
					break
				}
			}
			if all {
				found = true
				break
			}
		}
		if !found {
			return false, nil
		}
	}
	return true, nil
}
