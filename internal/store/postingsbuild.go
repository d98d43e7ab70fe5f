package store

import (
	"encoding/binary"
	"slices"
)

// postingsAccum collects the words and timestamps of a block's rows while
// it is written (part of blockAccum). Each word gets a small id from an
// open-addressing table of word keys (keys are hashes already, so a key's
// low bits are its slot); a row's words are kept as (id, row) entries, so
// that encoding is a counting pass, not a sort of a million keys.
type postingsAccum struct {
	table   []wordSlot
	words   []uint64   // key of each id
	stats   []wordRows // of each id
	entries []uint64   // id<<16 | row, in the order added
	ts      []int64    // µs, per row
	present bitmap
}

// wordSlot is a slot of the table: a word key | occupied (0 when free)
// and its id, side by side so that a lookup reads one cache line.
type wordSlot struct {
	key uint64
	id  uint32
}

// wordRows counts the rows of a word; last is the row+1 it was last added
// in, which skips a word repeated in a record.
type wordRows struct{ count, last uint32 }

// newPostingsAccumSized returns an accumulator with room for a block of words
// distinct words and entries occurrences (0: grow as needed).
func newPostingsAccumSized(words, entries int) postingsAccum {
	if words == 0 {
		return postingsAccum{}
	}
	slots := 1 << 16
	for slots < 2*words+words/4 {
		slots *= 2
	}
	words += words / 8
	return postingsAccum{table: make([]wordSlot, slots), words: make([]uint64, 0, words),
		stats: make([]wordRows, 0, words), entries: make([]uint64, 0, entries+entries/8)}
}

// occupied marks a used slot; word keys have it clear (query.PairKeyBit).
const occupied = 1 << 63

func (p *postingsAccum) note(row int, ts int64) {
	if p.ts == nil {
		p.ts = make([]int64, slotsPerBlock())
		p.present = newBitmap(slotsPerBlock())
	}
	p.ts[row] = ts
	p.present.set(row)
}

// addWords adds the single-word keys among keys (query.PairKeyBit clear)
// as occurring in row; rows are added in increasing order.
func (p *postingsAccum) addWords(row int, keys []uint64) {
	if p.table == nil {
		p.table = make([]wordSlot, 1<<16)
	}
	tag := uint32(row) + 1
	for _, k := range keys {
		if k&occupied != 0 { // a pair of words
			continue
		}
		id := p.id(k)
		st := &p.stats[id]
		if st.last == tag { // a word repeated in the record
			continue
		}
		st.last = tag
		st.count++
		p.entries = append(p.entries, uint64(id)<<16|uint64(row))
	}
}

// id returns the id of word key k, giving it one when it is new.
func (p *postingsAccum) id(k uint64) uint32 {
	mask := uint64(len(p.table) - 1)
	for i := k & mask; ; i = (i + 1) & mask {
		switch s := p.table[i]; s.key {
		case k | occupied:
			return s.id
		case 0:
			id := uint32(len(p.words))
			p.table[i] = wordSlot{k | occupied, id}
			p.words = append(p.words, k)
			p.stats = append(p.stats, wordRows{})
			if 2*len(p.words) > len(p.table) {
				p.grow()
			}
			return id
		}
	}
}

// grow doubles the table.
func (p *postingsAccum) grow() {
	p.table = make([]wordSlot, 2*len(p.table))
	mask := uint64(len(p.table) - 1)
	for id, k := range p.words {
		i := k & mask
		for p.table[i].key != 0 {
			i = (i + 1) & mask
		}
		p.table[i] = wordSlot{k | occupied, uint32(id)}
	}
}

// reset empties p and keeps its buffers.
func (p *postingsAccum) reset() {
	clear(p.table)
	p.words, p.stats, p.entries = p.words[:0], p.stats[:0], p.entries[:0]
	clear(p.present)
}

// encodePostings returns the postings file of block b.
func encodePostings(b uint64, storeID [16]byte, p *postingsAccum, minTS, maxTS int64) []byte {
	slots := slotsPerBlock()
	le := binary.LittleEndian
	// The words of two rows or more, in key order, and where each one's
	// rows go in one array.
	var listed []uint32
	for id, st := range p.stats {
		if st.count >= 2 {
			listed = append(listed, uint32(id))
		}
	}
	slices.SortFunc(listed, func(a, b uint32) int {
		if p.words[a] < p.words[b] {
			return -1
		}
		return 1 // keys are distinct
	})
	next := make([]int32, len(p.words))
	for i := range next {
		next[i] = -1
	}
	n := int32(0)
	for _, id := range listed {
		next[id] = n
		n += int32(p.stats[id].count)
	}
	rows := make([]uint16, n)
	for _, e := range p.entries { // rows in increasing order
		if at := next[e>>16]; at >= 0 {
			rows[at] = uint16(e)
			next[e>>16]++
		}
	}
	var dict, post []byte
	var fence []uint64
	start := 0
	for i, id := range listed {
		group := rows[start : start+int(p.stats[id].count)]
		start += len(group)
		if i%fenceEvery == 0 {
			fence = append(fence, p.words[id])
		}
		dict = le.AppendUint64(dict, p.words[id])
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
	le.PutUint32(out[36:], uint32(len(listed)))
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
