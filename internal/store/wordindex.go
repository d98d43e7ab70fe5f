package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The word index lets a bare-word search skip the raw records that cannot
// match instead of reading every one (seconds on ten million events). For
// each block of 16,384 consecutive event ids it keeps a Bloom filter
// of the word keys of the raw records (query.AppendWordKeys: lowercased
// words and pairs of words one character apart) and the block's time span.
// A search reads only the blocks whose filter may hold every key of a
// required word, plus the ids no filter covers yet (the newest events, and
// blocks still being indexed after an upgrade or a crash). The filter only
// ever answers "no" for a word that is absent, so results are exactly those
// of a full scan.
//
// Filters live in files (DIR/wordindex/BLOCK.idx), outside DuckDB: a
// search reads 8 bytes per word per block, where a table would read the
// whole filter. A file is written once its block is committed to DuckDB;
// one that is missing, torn or from another database only means that
// block is read in full (and indexed again in the background).

// indexBlockShift makes index blocks of 16,384 ids (tests make them
// smaller to cover many blocks with few events). Smaller blocks cost little
// more space (the words of a block's events are mostly their own) and let
// a search read less around each match or false positive.
var indexBlockShift = 14

const (
	// accumWords is the filter a block is built in (1 MiB); it is folded
	// to the smallest size that keeps false positives rare.
	accumWords    = 1 << 17
	minIndexWords = 64
	// maxIndexFill is the share of set bits a folded filter may have: six
	// bits per key, so a key absent from the block passes with
	// probability about maxIndexFill^6 (0.07%; 0.25% measured on the
	// 10-million-event store: bits are not spread evenly).
	maxIndexFill = 0.30
	indexDirName = "wordindex"
	indexMagic   = "DIWORDS2"
	indexHeader  = 64
)

// blockOf is the index block of an id (ids start at 1).
func blockOf(id uint64) uint64 { return (id - 1) >> indexBlockShift }

// blockIDs is the first and last id of block b.
func blockIDs(b uint64) (lo, hi uint64) { return b<<indexBlockShift + 1, (b + 1) << indexBlockShift }

// bloom is a blocked Bloom filter: a key sets six bits of one 64-bit word,
// so probing a key reads 8 bytes. Its length is a power of two, which lets
// a filter be folded in half (OR of both halves) and stay valid.
type bloom []uint64

// keyBits are the bits a key sets in its word: six 6-bit fields of the
// key's low 36 bits; wordOf uses the bits from 40 up.
func keyBits(key uint64) uint64 {
	return 1<<(key&63) | 1<<(key>>6&63) | 1<<(key>>12&63) | 1<<(key>>18&63) | 1<<(key>>24&63) | 1<<(key>>30&63)
}

func wordOf(key uint64, words int) int { return int(key >> 40 & uint64(words-1)) }

func (f bloom) add(key uint64) { f[wordOf(key, len(f))] |= keyBits(key) }

func (f bloom) fill() float64 {
	n := 0
	for _, w := range f {
		n += bits.OnesCount64(w)
	}
	return float64(n) / float64(64*len(f))
}

// folded returns the smallest fold of f whose fill stays under
// maxIndexFill (f itself when no fold does).
func (f bloom) folded() bloom {
	cur := f
	for len(cur) > minIndexWords {
		half := make(bloom, len(cur)/2)
		for i := range half {
			half[i] = cur[i] | cur[i+len(half)]
		}
		if half.fill() > maxIndexFill {
			break
		}
		cur = half
	}
	return cur
}

// blockAccum collects the keys of one block while it is written.
type blockAccum struct {
	block uint64
	next  uint64 // the id expected next
	// whole is false when the block's first ids were not seen (written
	// before a restart): the filter would miss their words, so the block
	// is indexed from DuckDB instead.
	whole        bool
	minTS, maxTS int64 // µs
	events       uint64
	bits         bloom
	posts        postingsAccum // postings.go
	postsEpoch   uint64        // retention epoch when collection began
}

func newBlockAccum(b uint64) *blockAccum {
	lo, _ := blockIDs(b)
	return &blockAccum{block: b, next: lo, whole: true, bits: make(bloom, accumWords)}
}

// add records event id with its keys (the indexer's path).
func (a *blockAccum) add(id uint64, ts int64, keys []uint64) {
	a.note(id, ts)
	a.addKeys(keys)
	lo, _ := blockIDs(a.block)
	a.posts.addWords(int(id-lo), keys)
}

func (a *blockAccum) addKeys(keys []uint64) {
	for _, k := range keys {
		a.bits.add(k)
	}
}

// note records that event id of time ts is in the block.
func (a *blockAccum) note(id uint64, ts int64) {
	if id != a.next {
		a.whole = false
	}
	a.next = id + 1
	if a.events == 0 || ts < a.minTS {
		a.minTS = ts
	}
	if a.events == 0 || ts > a.maxTS {
		a.maxTS = ts
	}
	a.events++
	lo, _ := blockIDs(a.block)
	a.posts.note(int(id-lo), ts)
}

// blockInfo is what the index keeps in memory of a block's file.
type blockInfo struct {
	minTS, maxTS int64 // µs
	words        int
	events       uint64
}

// wordIndex is the set of block filter files of a store.
type wordIndex struct {
	dir     string
	storeID [16]byte

	mu     sync.RWMutex
	blocks map[uint64]blockInfo
	bytes  int64

	// accums are the blocks being written, guarded by Store.writeMu.
	accums map[uint64]*blockAccum

	posts postingsSet // postingsfiles.go
}

// openWordIndex reads the headers of the filter files in dataDir, deleting
// those that are torn or belong to another database.
func openWordIndex(dataDir string, storeID [16]byte) (*wordIndex, error) {
	w := &wordIndex{dir: filepath.Join(dataDir, indexDirName), storeID: storeID,
		blocks: map[uint64]blockInfo{}, accums: map[uint64]*blockAccum{}, posts: newPostingsSet()}
	if err := os.MkdirAll(w.dir, 0o750); err != nil {
		return nil, fmt.Errorf("store: create word index directory: %w", err)
	}
	ents, err := os.ReadDir(w.dir)
	if err != nil {
		return nil, fmt.Errorf("store: read word index directory: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, postingsExt) {
			w.openPostingsFile(name)
			continue
		}
		b, err := strconv.ParseUint(strings.TrimSuffix(name, ".idx"), 10, 64)
		if !strings.HasSuffix(name, ".idx") || err != nil {
			os.Remove(filepath.Join(w.dir, name)) // temporary file of a crash
			continue
		}
		info, err := w.readHeader(b)
		if err != nil {
			os.Remove(w.path(b))
			continue
		}
		w.blocks[b] = info
		w.bytes += int64(indexHeader + 8*info.words)
	}
	return w, nil
}

func (w *wordIndex) path(b uint64) string {
	return filepath.Join(w.dir, fmt.Sprintf("%012d.idx", b))
}

func (w *wordIndex) readHeader(b uint64) (blockInfo, error) {
	f, err := os.Open(w.path(b))
	if err != nil {
		return blockInfo{}, err
	}
	defer f.Close()
	var h [indexHeader]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return blockInfo{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		return blockInfo{}, err
	}
	le := binary.LittleEndian
	words := le.Uint64(h[16:])
	switch {
	case string(h[:8]) != indexMagic, le.Uint64(h[8:]) != b, [16]byte(h[48:64]) != w.storeID:
		return blockInfo{}, errors.New("not a filter of this block of this database")
	case words == 0 || words&(words-1) != 0 || words > accumWords || fi.Size() != int64(indexHeader+8*words):
		return blockInfo{}, errors.New("torn filter file")
	}
	return blockInfo{minTS: int64(le.Uint64(h[24:])), maxTS: int64(le.Uint64(h[32:])),
		words: int(words), events: le.Uint64(h[40:])}, nil
}

// write saves the folded filter of a committed block: written to a
// temporary file, synced, then renamed, so that a file under its final name
// is whole.
func (w *wordIndex) write(a *blockAccum) error {
	f := a.bits.folded()
	buf := make([]byte, indexHeader, indexHeader+8*len(f))
	le := binary.LittleEndian
	copy(buf, indexMagic)
	le.PutUint64(buf[8:], a.block)
	le.PutUint64(buf[16:], uint64(len(f)))
	le.PutUint64(buf[24:], uint64(a.minTS))
	le.PutUint64(buf[32:], uint64(a.maxTS))
	le.PutUint64(buf[40:], a.events)
	copy(buf[48:], w.storeID[:])
	for _, x := range f {
		buf = le.AppendUint64(buf, x)
	}
	tmp := w.path(a.block) + ".tmp"
	if err := writeSynced(tmp, buf); err != nil {
		return fmt.Errorf("store: write word index of block %d: %w", a.block, err)
	}
	if err := os.Rename(tmp, w.path(a.block)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: write word index of block %d: %w", a.block, err)
	}
	w.mu.Lock()
	if old, ok := w.blocks[a.block]; ok {
		w.bytes -= int64(indexHeader + 8*old.words)
	}
	w.blocks[a.block] = blockInfo{minTS: a.minTS, maxTS: a.maxTS, words: len(f), events: a.events}
	w.bytes += int64(len(buf))
	w.mu.Unlock()
	return nil
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// keyedEvent is an event of a Write whose keys go to its block's filter
// and postings.
type keyedEvent struct {
	block blockRow
	keys  []uint64
}

// blockRow is an event's block and row in it.
type blockRow struct {
	a   *blockAccum
	row int
}

func (r blockRow) addKeys(keys []uint64) {
	r.a.addKeys(keys)
	r.a.posts.addWords(r.row, keys)
}

// note records event id in its block (Write, under Store.writeMu) and
// returns the block and row, for the event's keys.
func (w *wordIndex) note(id uint64, ts time.Time) blockRow {
	b := blockOf(id)
	a := w.accums[b]
	if a == nil {
		a = newBlockAccum(b)
		a.postsEpoch = w.postingsEpoch()
		a.posts = w.newPostingsAccum()
		w.accums[b] = a
	}
	a.note(id, ts.UnixMicro())
	lo, _ := blockIDs(b)
	return blockRow{a, int(id - lo)}
}

// takeComplete removes and returns the blocks whose last id is at most
// upto (under Store.writeMu): once those ids are committed, the blocks can
// be saved.
func (w *wordIndex) takeComplete(upto uint64) []*blockAccum {
	var out []*blockAccum
	for b, a := range w.accums {
		if _, hi := blockIDs(b); hi <= upto {
			out = append(out, a)
			delete(w.accums, b)
		}
	}
	return out
}

func (w *wordIndex) has(b uint64) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	_, ok := w.blocks[b]
	return ok
}

// maxIndexedID is the last id of the highest indexed block (0 if none).
func (w *wordIndex) maxIndexedID() uint64 {
	w.mu.RLock()
	defer w.mu.RUnlock()
	var m uint64
	for b := range w.blocks {
		_, hi := blockIDs(b)
		m = max(m, hi)
	}
	return m
}

// dropBelow deletes the filters of blocks whose ids are all below minID
// (their events are gone).
func (w *wordIndex) dropBelow(minID uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	for b, info := range w.blocks {
		if _, hi := blockIDs(b); hi < minID {
			if err := os.Remove(w.path(b)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
				continue
			}
			delete(w.blocks, b)
			w.bytes -= int64(indexHeader + 8*info.words)
		}
	}
	errs = append(errs, w.dropPostingsBelow(minID))
	return errors.Join(errs...)
}

func (w *wordIndex) size() int64 {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.bytes + w.posts.size()
}
