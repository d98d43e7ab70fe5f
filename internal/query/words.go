package query

import (
	"unicode"
	"unicode/utf8"
)

// Bare words and phrases match the raw record as whole words, which is what
// lets the store answer them from a word index instead of reading every
// record. The rules, shared by the compiler (the SQL that checks a match)
// and the store (the index that finds the records that may match):
//
//   - A word is a run of ASCII letters and digits and non-ASCII characters;
//     every other character separates words. "Invoke-Mimikatz.ps1" holds
//     the words invoke, mimikatz and ps1.
//   - Case does not matter (Unicode simple case folding, as the SQL's
//     case-insensitive match).
//   - A bare word or phrase matches where its text appears in the record
//     and neither starts nor ends inside a longer word: mimikatz matches
//     "Invoke-Mimikatz" but not "InvokeMimikatz" (message:mimikatz or
//     *mimikatz* search inside words).
//
// The index keys of a text are the hashes of its words and of each pair of
// words separated by exactly one character ("203.0.113.7" gives 203, 0,
// 113, 7, and the pairs 203+0, 0+113, 113+7), so that a rare address made of
// common numbers is still rare in the index.

// IsWordByte reports whether b belongs to a word (bytes of multi-byte UTF-8
// characters all do).
func IsWordByte(b byte) bool { return wordByte[b] }

var wordByte = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
	}
	return t
}()

// lowerASCII maps A-Z to a-z and leaves every other byte alone.
var lowerASCII = func() (t [256]byte) {
	for c := 0; c < 256; c++ {
		t[c] = byte(c)
		if c >= 'A' && c <= 'Z' {
			t[c] = byte(c) + 'a' - 'A'
		}
	}
	return t
}()

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// mix finishes a hash so that all its bits depend on every input byte
// (splitmix64's finalizer).
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// PairKeyBit is set in the index keys of pairs of words and clear in those
// of single words, so that an index can keep postings of words alone. The
// Bloom filter of the store uses bits 0 to 56 of a key only: tagging left
// filters written before the tag valid.
const PairKeyBit = 1 << 63

// pairKey is the index key of two words separated by one character.
func pairKey(a, b uint64) uint64 { return mix(a*0x9e3779b97f4a7c15 ^ b) }

// AppendWordKeys appends the index keys of text (its words and the pairs of
// words one character apart) to dst. Keys repeat when words do.
func AppendWordKeys[T ~string | ~[]byte](dst []uint64, text T) []uint64 {
	var prev uint64 // key of the previous word; 0: none or not adjacent
	i, n := 0, len(text)
	for i < n {
		if !wordByte[text[i]] {
			i++
			continue
		}
		start := i
		h := uint64(fnvOffset)
		ascii := true
		for i < n && wordByte[text[i]] {
			c := text[i]
			if c >= 0x80 {
				ascii = false
				break
			}
			h = (h ^ uint64(lowerASCII[c])) * fnvPrime
			i++
		}
		if !ascii {
			i = start
			h = fnvOffset
			for i < n && wordByte[text[i]] {
				r, size := utf8.DecodeRuneInString(string(text[i:]))
				h = foldRuneHash(h, r)
				i += size
			}
		}
		key := mix(h)
		dst = append(dst, key&^PairKeyBit)
		if prev != 0 { // the previous word ended one separator before start
			dst = append(dst, pairKey(prev, key)|PairKeyBit)
		}
		prev = key
		// One separator keeps the pair open, more close it.
		if i+1 < n && !wordByte[text[i]] && wordByte[text[i+1]] {
			continue
		}
		prev = 0
	}
	return dst
}

// foldRuneHash adds the case-folded rune r to h. Every rune of a case-folding
// orbit (k, K and the Kelvin sign K) hashes the same, as the SQL's
// case-insensitive match treats them the same.
func foldRuneHash(h uint64, r rune) uint64 {
	if r < utf8.RuneSelf {
		return (h ^ uint64(lowerASCII[r])) * fnvPrime
	}
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	m = unicode.ToLower(m)
	if m < utf8.RuneSelf {
		return (h ^ uint64(m)) * fnvPrime
	}
	var buf [utf8.UTFMax]byte
	for _, c := range buf[:utf8.EncodeRune(buf[:], m)] {
		h = (h ^ uint64(c)) * fnvPrime
	}
	return h
}

// IsSingleWord reports whether v is one word of ASCII letters and digits
// alone. A record matches such a bare word exactly when one of its words
// has v's index key (WordKeys(v) is that one key): there is no adjacency
// to check, and the key folds case as the SQL's RE2 match does (the
// Kelvin sign is a k to both), so an index of words answers it exactly.
func IsSingleWord(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= 0x80 || !wordByte[c] {
			return false
		}
	}
	return true
}

// WordKeys returns the index keys a record must hold to match the bare word
// or phrase v, without repeats; nil when v has no word (then any record may
// match).
func WordKeys(v string) []uint64 {
	keys := AppendWordKeys(nil, v)
	out := keys[:0]
	seen := make(map[uint64]bool, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
