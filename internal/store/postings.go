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

// postingsAccum collects the word occurrences and timestamps of a block
// while it is written (part of blockAccum).
type postingsAccum struct {
	keys    []uint64 // word keys, in the order seen
	rows    []uint16 // the row of each key
	ts      []int64  // µs, per row
	present bitmap
}

func (p *postingsAccum) note(row int, ts int64) {
	if p.ts == nil {
		p.ts = make([]int64, slotsPerBlock())
		p.present = newBitmap(slotsPerBlock())
	}
	p.ts[row] = ts
	p.present.set(row)
}

// addWords adds the single-word keys among keys (query.PairKeyBit clear)
// as occurring in row.
func (p *postingsAccum) addWords(row int, keys []uint64) {
	for _, k := range keys {
		if int64(k) >= 0 { // PairKeyBit is the sign bit
			p.keys = append(p.keys, k)
			p.rows = append(p.rows, uint16(row))
		}
	}
}

// encodePostings returns the postings file of block b.
func encodePostings(b uint64, storeID [16]byte, p *postingsAccum, minTS, maxTS int64) []byte {
	slots := slotsPerBlock()
	keys, rows := sortByKey(p.keys, p.rows)
	le := binary.LittleEndian
	var dict, post []byte
	var fence []uint64
	nkeys := 0
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j] == keys[i] {
			j++
		}
		// Rows of one key are in increasing order (a stable sort of rows
		// written in order); repeats of a word in a record are adjacent.
		group := slices.Compact(rows[i:j])
		if len(group) >= 2 {
			if nkeys%fenceEvery == 0 {
				fence = append(fence, keys[i])
			}
			nkeys++
			dict = le.AppendUint64(dict, keys[i])
			dict = le.AppendUint32(dict, uint32(len(post)))
			dict = le.AppendUint32(dict, uint32(len(group)))
			if asBitmap(len(group), slots) {
				m := newBitmap(slots)
				for _, r := range group {
					m.set(int(r))
				}
				for _, w := range m {
					post = le.AppendUint64(post, w)
				}
			} else {
				for _, r := range group {
					post = le.AppendUint16(post, r)
				}
			}
		}
		i = j
	}
	var tsBuf []byte
	var prev int64
	for r := 0; r < slots && p.ts != nil; r++ {
		if p.present.has(r) {
			tsBuf = binary.AppendVarint(tsBuf, p.ts[r]-prev)
			prev = p.ts[r]
		}
	}
	presentBytes := (slots + 7) / 8
	out := make([]byte, postingsHeader, postingsHeader+presentBytes+len(tsBuf)+8*len(fence)+len(dict)+len(post))
	copy(out, postingsMagic)
	le.PutUint64(out[8:], b)
	copy(out[16:32], storeID[:])
	le.PutUint32(out[32:], uint32(slots))
	le.PutUint32(out[36:], uint32(nkeys))
	le.PutUint64(out[40:], uint64(len(tsBuf)))
	le.PutUint64(out[48:], uint64(len(post)))
	le.PutUint64(out[56:], uint64(minTS))
	le.PutUint64(out[64:], uint64(maxTS))
	present := p.present
	if present == nil {
		present = newBitmap(slots)
	}
	le.PutUint64(out[72:], uint64(present.count()))
	for i := 0; i < presentBytes; i++ {
		out = append(out, byte(present[i/8]>>(8*(i%8))))
	}
	out = append(out, tsBuf...)
	for _, k := range fence {
		out = le.AppendUint64(out, k)
	}
	out = append(out, dict...)
	out = append(out, post...)
	le.PutUint64(out[80:], uint64(len(out)))
	return out
}

// asBitmap reports whether a word in n rows of a block is stored as a
// bitmap (when that takes less room than 16-bit row numbers).
func asBitmap(n, slots int) bool { return 2*n >= slots/8 }

// sortByKey sorts keys and rows by key, keeping rows in order among equal
// keys (least significant digit radix sort, 16 bits a pass).
func sortByKey(keys []uint64, rows []uint16) ([]uint64, []uint16) {
	n := len(keys)
	if n == 0 {
		return keys, rows
	}
	k2, r2 := make([]uint64, n), make([]uint16, n)
	var count [1 << 16]int
	for shift := 0; shift < 64; shift += 16 {
		clear(count[:])
		for _, k := range keys {
			count[k>>shift&0xffff]++
		}
		if count[keys[0]>>shift&0xffff] == n { // every key has this digit
			continue
		}
		pos := 0
		for d, c := range count {
			count[d] = pos
			pos += c
		}
		for i, k := range keys {
			d := k >> shift & 0xffff
			k2[count[d]], r2[count[d]] = k, rows[i]
			count[d]++
		}
		keys, k2 = k2, keys
		rows, r2 = r2, rows
	}
	return keys, rows
}

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
