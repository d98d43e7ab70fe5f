package store

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// postingsSet tracks the postings files of a store (postings.go) and the
// saved blocks waiting for theirs, which the indexer goroutine writes.
type postingsSet struct {
	mu    sync.Mutex
	files map[uint64]postedFile
	bytes int64
	// deletedBefore is the newest retention cutoff (µs) and epoch counts
	// retention runs: postings collected before a run (an older epoch)
	// are not written for a block holding an event older than the cutoff.
	deletedBefore int64
	epoch         uint64
	queue         []*blockAccum
	queued        map[uint64]bool
	// spare holds the buffers of written blocks for the next ones (about
	// ten megabytes a block).
	spare []postingsAccum
	// lastWords and lastEntries are the sizes of the last block written:
	// new buffers start that large rather than grow (blocks wait for a
	// whole row group's commit, so several are filled at once).
	lastWords, lastEntries int
}

type postedFile struct {
	minTS int64 // µs
	size  int64
}

func newPostingsSet() postingsSet {
	return postingsSet{files: map[uint64]postedFile{}, queued: map[uint64]bool{}}
}

func (w *wordIndex) postingsPath(b uint64) string {
	return filepath.Join(w.dir, fmt.Sprintf("%012d%s", b, postingsExt))
}

// openPostingsFile records an existing postings file (at open), deleting it
// when it is torn or belongs to another database or block size.
func (w *wordIndex) openPostingsFile(name string) {
	path := filepath.Join(w.dir, name)
	b, err := strconv.ParseUint(strings.TrimSuffix(name, postingsExt), 10, 64)
	if err != nil {
		os.Remove(path)
		return
	}
	p, err := w.openPostings(b)
	if err != nil {
		os.Remove(path)
		return
	}
	defer p.Close()
	fi, err := p.f.Stat()
	if err != nil {
		return
	}
	w.posts.mu.Lock()
	w.posts.files[b] = postedFile{minTS: p.minTS, size: fi.Size()}
	w.posts.bytes += fi.Size()
	w.posts.mu.Unlock()
}

// queuePostings hands a saved block to the indexer for its postings file.
func (w *wordIndex) queuePostings(a *blockAccum) {
	w.posts.mu.Lock()
	w.posts.queue = append(w.posts.queue, a)
	w.posts.queued[a.block] = true
	w.posts.mu.Unlock()
}

// takePostingsQueue returns the blocks waiting for their postings.
func (w *wordIndex) takePostingsQueue() []*blockAccum {
	w.posts.mu.Lock()
	defer w.posts.mu.Unlock()
	q := w.posts.queue
	w.posts.queue = nil
	return q
}

// needsPostings reports whether block b has no postings file and none is
// on its way.
func (w *wordIndex) needsPostings(b uint64) bool {
	w.posts.mu.Lock()
	defer w.posts.mu.Unlock()
	_, ok := w.posts.files[b]
	return !ok && !w.posts.queued[b]
}

// postingsWritten reports whether block b's postings are settled: a file
// written, or nothing to write (queued ones are not).
func (w *wordIndex) postingsWritten(b uint64) bool {
	w.posts.mu.Lock()
	defer w.posts.mu.Unlock()
	_, ok := w.posts.files[b]
	return ok
}

// writePostings saves the postings of a block whose events are committed:
// a temporary file, synced, then renamed. A block holding an event older
// than the last retention cutoff gets none (retention may have deleted
// rows the postings list).
func (w *wordIndex) writePostings(a *blockAccum) error {
	w.posts.mu.Lock()
	delete(w.posts.queued, a.block)
	if a.events == 0 {
		// Nothing to list (retention took every row): SQL reads nothing
		// there either. Noted so that it is not read again until restart.
		w.posts.files[a.block] = postedFile{minTS: math.MaxInt64}
	}
	skip := a.events == 0 || w.posts.stale(a)
	w.posts.mu.Unlock()
	if skip {
		w.recycle(a)
		return nil
	}
	buf := encodePostings(a.block, w.storeID, &a.posts, a.minTS, a.maxTS)
	w.recycle(a)
	path := w.postingsPath(a.block)
	tmp := path + ".tmp"
	if err := writeSynced(tmp, buf); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: write postings of block %d: %w", a.block, err)
	}
	w.posts.mu.Lock()
	defer w.posts.mu.Unlock()
	if w.posts.stale(a) { // retention ran meanwhile
		return os.Remove(tmp)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: write postings of block %d: %w", a.block, err)
	}
	if old, ok := w.posts.files[a.block]; ok {
		w.posts.bytes -= old.size
	}
	w.posts.files[a.block] = postedFile{minTS: a.minTS, size: int64(len(buf))}
	w.posts.bytes += int64(len(buf))
	return nil
}

// newPostingsAccum returns an empty accumulator, with the buffers of a
// written block when there is one.
func (w *wordIndex) newPostingsAccum() postingsAccum {
	w.posts.mu.Lock()
	defer w.posts.mu.Unlock()
	n := len(w.posts.spare)
	if n == 0 {
		return newPostingsAccumSized(w.posts.lastWords, w.posts.lastEntries)
	}
	p := w.posts.spare[n-1]
	w.posts.spare = w.posts.spare[:n-1]
	return p
}

// recycle keeps the buffers of a's postings for a later block.
func (w *wordIndex) recycle(a *blockAccum) {
	p := a.posts
	a.posts = postingsAccum{}
	words, entries := len(p.words), len(p.entries)
	p.reset()
	w.posts.mu.Lock()
	defer w.posts.mu.Unlock()
	if entries > 0 {
		w.posts.lastWords, w.posts.lastEntries = words, entries
	}
	if len(w.posts.spare) < 2 {
		w.posts.spare = append(w.posts.spare, p)
	}
}

// stale reports whether retention may have deleted rows of a since they
// were collected.
func (p *postingsSet) stale(a *blockAccum) bool {
	return a.postsEpoch != p.epoch && a.minTS < p.deletedBefore
}

// postingsEpoch is the retention epoch (collections started now are not
// stale until the next run).
func (w *wordIndex) postingsEpoch() uint64 {
	w.posts.mu.Lock()
	defer w.posts.mu.Unlock()
	return w.posts.epoch
}

// dropPostings removes the postings of every block holding an event older
// than before (µs), ahead of retention deleting those events.
func (w *wordIndex) dropPostings(before int64) error {
	w.posts.mu.Lock()
	defer w.posts.mu.Unlock()
	w.posts.deletedBefore = max(w.posts.deletedBefore, before)
	w.posts.epoch++
	return w.removePostingsLocked(func(b uint64, f postedFile) bool { return f.minTS < before })
}

// dropPostingsBelow removes the postings of blocks whose ids are all below
// minID (their events are gone).
func (w *wordIndex) dropPostingsBelow(minID uint64) error {
	w.posts.mu.Lock()
	defer w.posts.mu.Unlock()
	return w.removePostingsLocked(func(b uint64, _ postedFile) bool { _, hi := blockIDs(b); return hi < minID })
}

func (w *wordIndex) removePostingsLocked(drop func(uint64, postedFile) bool) error {
	var errs []error
	for b, f := range w.posts.files {
		if !drop(b, f) {
			continue
		}
		if f.size == 0 { // no file (writePostings)
			delete(w.posts.files, b)
			continue
		}
		if err := os.Remove(w.postingsPath(b)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		delete(w.posts.files, b)
		w.posts.bytes -= f.size
	}
	if len(errs) > 0 {
		return fmt.Errorf("store: removing postings: %w", errors.Join(errs...))
	}
	return nil
}

func (p *postingsSet) size() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes
}
