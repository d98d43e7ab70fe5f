package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"
)

// Searching with the word index: which id ranges a query with required
// bare words must read (wordindex.go has the index itself).

// idRange is an inclusive range of ids; hi == 0 means no upper bound.
type idRange struct{ lo, hi uint64 }

// maxRanges bounds the ranges a narrowed query lists; beyond it the closest
// ranges are merged (reading a few more blocks).
const maxRanges = 64

// candidates returns the id ranges that may hold a match of clauses (keys
// of a required word, per alternative, per clause) in [from, to). narrowed
// is false when every block may match (no restriction is worth adding).
func (w *wordIndex) candidates(from, to time.Time, clauses [][][]uint64) (ranges []idRange, narrowed bool, err error) {
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
		include(idRange{bl, bh})
	}
	if !skipped {
		return nil, false, nil
	}
	include(idRange{next, 0}) // the newest events, not indexed yet
	for len(ranges) > maxRanges {
		best := 0
		for i := 1; i+1 < len(ranges); i++ {
			if ranges[i+1].lo-ranges[i].hi < ranges[best+1].lo-ranges[best].hi {
				best = i
			}
		}
		ranges[best].hi = ranges[best+1].hi
		ranges = slices.Delete(ranges, best+1, best+2)
	}
	return ranges, true, nil
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
