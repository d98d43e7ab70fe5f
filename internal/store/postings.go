package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"slices"
)

// Postings list, for each index block, the rows of every word found in at
// least two of its raw records, and the @timestamp of each row. They let a
// query made of single bare words alone (query.SQL.WordsOnly) be counted
// and drawn as a histogram without reading a record: a word in one event
// in eight is in every block, so the Bloom filter cannot skip any, and
// checking ten million raw records takes seconds. A word in one record of
// a block is left to the Bloom filter and SQL (most such words are ids and
// hashes, which would triple the file).
//
// A file, DIR/wordindex/BLOCK.pst, is written in the background once its
// block's filter is saved: a header, the rows present, their timestamps,
// and a dictionary of (word key, offset, count) sorted by key, found
// through a fence of every fenceEvery-th key, then the rows of each word:
// a bitmap when that is smaller, else a list of 16-bit row numbers. A
// search reads the header, the fence, one slice of the dictionary and the
// rows of its words.
//
// Postings describe the rows of a block as they were written. Retention
// deletes by time, so before it deletes events older than a cutoff, it
// removes the postings of every block holding an event that old
// (dropPostings), and a postings file is never written for such a block
// afterwards.

const (
	postingsMagic  = "DIPOSTS1"
	postingsHeader = 96
	fenceEvery     = 128
	dictEntrySize  = 16 // key, offset, count
	postingsExt    = ".pst"
)

// slotsPerBlock is the number of ids of a block (rows are numbered from 0).
func slotsPerBlock() int { return 1 << indexBlockShift }

// bitmap is a set of rows of a block.
type bitmap []uint64

func newBitmap(slots int) bitmap { return make(bitmap, (slots+63)/64) }

func (m bitmap) set(i int)      { m[i>>6] |= 1 << (i & 63) }
func (m bitmap) has(i int) bool { return m[i>>6]&(1<<(i&63)) != 0 }

func (m bitmap) count() int {
	n := 0
	for _, w := range m {
		n += bits.OnesCount64(w)
	}
	return n
}

// asBitmap reports whether a word in n rows of a block is stored as a
// bitmap (when that takes less room than 16-bit row numbers).
func asBitmap(n, slots int) bool { return 2*n >= slots/8 }

// postingsFile is an open postings file with its header read.
type postingsFile struct {
	f            *os.File
	slots        int
	nkeys        int
	present      int // rows present
	minTS, maxTS int64
	tsOff, tsLen int64
	fence        []uint64
	dictOff      int64
	postOff      int64
}

var errNotPostings = errors.New("not a postings file of this block of this database")

// openPostings opens block b's postings file; os.ErrNotExist when it has none.
func (w *wordIndex) openPostings(b uint64) (*postingsFile, error) {
	f, err := os.Open(w.postingsPath(b))
	if err != nil {
		return nil, err
	}
	p, err := readPostingsHeader(f, b, w.storeID)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: postings of block %d: %w", b, err)
	}
	return p, nil
}

func readPostingsHeader(f *os.File, b uint64, storeID [16]byte) (*postingsFile, error) {
	var h [postingsHeader]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	p := &postingsFile{f: f, slots: int(le.Uint32(h[32:])), nkeys: int(le.Uint32(h[36:])),
		minTS: int64(le.Uint64(h[56:])), maxTS: int64(le.Uint64(h[64:])), present: int(le.Uint64(h[72:]))}
	if string(h[:8]) != postingsMagic || le.Uint64(h[8:]) != b || [16]byte(h[16:32]) != storeID || p.slots != slotsPerBlock() {
		return nil, errNotPostings
	}
	p.tsOff = postingsHeader + int64(p.slots+7)/8
	p.tsLen = int64(le.Uint64(h[40:]))
	nfence := (p.nkeys + fenceEvery - 1) / fenceEvery
	fenceOff := p.tsOff + p.tsLen
	p.dictOff = fenceOff + 8*int64(nfence)
	p.postOff = p.dictOff + dictEntrySize*int64(p.nkeys)
	size := int64(le.Uint64(h[80:]))
	if size != fi.Size() || p.postOff+int64(le.Uint64(h[48:])) != size {
		return nil, errors.New("torn postings file")
	}
	buf := make([]byte, 8*nfence)
	if _, err := f.ReadAt(buf, fenceOff); err != nil {
		return nil, err
	}
	p.fence = make([]uint64, nfence)
	for i := range p.fence {
		p.fence[i] = le.Uint64(buf[8*i:])
	}
	return p, nil
}

func (p *postingsFile) Close() error { return p.f.Close() }

// rows returns the rows holding word key; found is false when the word
// is in fewer than two rows of the block (or none).
func (p *postingsFile) rows(key uint64) (m bitmap, found bool, err error) {
	// The chunk of the dictionary that would hold key.
	c, _ := slices.BinarySearch(p.fence, key)
	if c == len(p.fence) || p.fence[c] != key {
		c--
	}
	if c < 0 {
		return nil, false, nil
	}
	first := c * fenceEvery
	n := min(fenceEvery, p.nkeys-first)
	buf := make([]byte, n*dictEntrySize)
	if _, err := p.f.ReadAt(buf, p.dictOff+int64(first*dictEntrySize)); err != nil {
		return nil, false, err
	}
	le := binary.LittleEndian
	lo, hi := 0, n
	for lo < hi {
		mid := (lo + hi) / 2
		if le.Uint64(buf[mid*dictEntrySize:]) < key {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == n || le.Uint64(buf[lo*dictEntrySize:]) != key {
		return nil, false, nil
	}
	off := int64(le.Uint32(buf[lo*dictEntrySize+8:]))
	cnt := int(le.Uint32(buf[lo*dictEntrySize+12:]))
	m = newBitmap(p.slots)
	if asBitmap(cnt, p.slots) {
		raw := make([]byte, 8*len(m))
		if _, err := p.f.ReadAt(raw, p.postOff+off); err != nil {
			return nil, false, err
		}
		for i := range m {
			m[i] = le.Uint64(raw[8*i:])
		}
		return m, true, nil
	}
	raw := make([]byte, 2*cnt)
	if _, err := p.f.ReadAt(raw, p.postOff+off); err != nil {
		return nil, false, err
	}
	for i := 0; i < cnt; i++ {
		r := int(le.Uint16(raw[2*i:]))
		if r >= p.slots {
			return nil, false, errors.New("row out of the block")
		}
		m.set(r)
	}
	return m, true, nil
}

// presentRows returns the rows present in the block.
func (p *postingsFile) presentRows() (bitmap, error) {
	raw := make([]byte, (p.slots+7)/8)
	if _, err := p.f.ReadAt(raw, postingsHeader); err != nil {
		return nil, err
	}
	m := newBitmap(p.slots)
	for i, c := range raw {
		m[i/8] |= uint64(c) << (8 * (i % 8))
	}
	return m, nil
}

// timestamps returns the @timestamp (µs) of every row (0 for rows absent).
func (p *postingsFile) timestamps(present bitmap) ([]int64, error) {
	raw := make([]byte, p.tsLen)
	if _, err := p.f.ReadAt(raw, p.tsOff); err != nil {
		return nil, err
	}
	ts := make([]int64, p.slots)
	var prev int64
	for r := 0; r < p.slots; r++ {
		if !present.has(r) {
			continue
		}
		d, n := binary.Varint(raw)
		if n <= 0 {
			return nil, errors.New("torn timestamps")
		}
		raw = raw[n:]
		prev += d
		ts[r] = prev
	}
	return ts, nil
}
