package normalize

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// appendValue writes a stored value as JSON. Objects keep their order.
func appendValue(dst []byte, v any) []byte {
	return appendJSON(dst, v, false)
}

// appendSortedJSON writes v as compact JSON with sorted keys, the text the
// reference stores when an object lands in a keyword field.
func appendSortedJSON(dst []byte, v any) []byte {
	return appendJSON(dst, v, true)
}

func appendJSON(dst []byte, v any, sortKeys bool) []byte {
	switch x := v.(type) {
	case nil, undefined:
		return append(dst, "null"...)
	case bool:
		return strconv.AppendBool(dst, x)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case bigInt:
		return append(dst, x...)
	case float64:
		s := pyFloat(x)
		if s == "inf" || s == "-inf" || s == "nan" {
			return append(dst, "null"...)
		}
		return append(dst, s...)
	case string:
		return appendString(dst, x)
	case time.Time:
		dst = append(dst, '"')
		dst = appendTime(dst, x)
		return append(dst, '"')
	case []string:
		dst = append(dst, '[')
		for i, it := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, it)
		}
		return append(dst, ']')
	case []any:
		dst = append(dst, '[')
		for i, it := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSON(dst, it, sortKeys)
		}
		return append(dst, ']')
	case tuple:
		return appendJSON(dst, []any(x), sortKeys)
	case set:
		return appendJSON(dst, []any(x), sortKeys)
	case *dict:
		order := make([]int, len(x.keys))
		for i := range order {
			order[i] = i
		}
		if sortKeys {
			slices.SortStableFunc(order, func(a, b int) int {
				switch {
				case x.keys[a] < x.keys[b]:
					return -1
				case x.keys[a] > x.keys[b]:
					return 1
				}
				return 0
			})
		}
		dst = append(dst, '{')
		seen := 0
		for _, i := range order {
			if seen > 0 {
				dst = append(dst, ',')
			}
			seen++
			dst = appendString(dst, x.keys[i])
			dst = append(dst, ':')
			dst = appendJSON(dst, x.vals[i], sortKeys)
		}
		return append(dst, '}')
	}
	return append(dst, "null"...)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD so
// that the output is always valid JSON.
//
// Most of the text is raw records, JSON with a quote or a backslash every
// nine bytes or so, at places no branch predictor guesses, and now and
// then a non-ASCII letter (the ® of "Microsoft® Windows®" in every process
// record). appendQuotedRun writes the runs of ASCII text; the bytes it
// stops at (non-ASCII text, control bytes) are written here, one at a
// time, and the run goes on after them.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	i := 0
	for {
		dst, i = appendQuotedRun(dst, s, i)
		if i == len(s) {
			return append(dst, '"')
		}
		c := s[i]
		if c < utf8.RuneSelf {
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\ufffd"...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
}

// appendQuotedRun writes s[i:] escaped up to its end or to the first byte
// that it leaves to appendString (non-ASCII, or a control byte other than
// \n, \r, \t), and returns where it stopped.
//
// It reads eight bytes at a time. A word with nothing to escape (found
// with bit tricks) is stored as it is. In a word with only quotes and
// backslashes to escape, each is found with an exact mask: a backslash is
// written at its place and the rest of the word stored again one byte
// further. Other words are written byte by byte, without a branch per byte:
// each byte is written after a backslash that it overwrites unless it
// needs it. Room for the worst case (every byte doubled, plus a word of
// slack for the stores) is made once.
func appendQuotedRun(dst []byte, s string, i int) ([]byte, int) {
	const ones, highs, lows = 0x0101010101010101, 0x8080808080808080, 0x7f7f7f7f7f7f7f7f
	n := len(dst)
	room := 2*(len(s)-i) + 16
	dst = slices.Grow(dst, room)
	out := dst[n : n+room]
	j := 0
	for i+8 <= len(s) {
		w := load64(s, i)
		binary.LittleEndian.PutUint64(out[j:], w)
		if escapeMask(w) == 0 {
			i += 8
			j += 8
			continue
		}
		// Non-ASCII bytes and bytes below 0x20 (exact for ASCII bytes:
		// no carry crosses a byte).
		if w&highs|^(w&lows+ones*0x60)&^w&highs != 0 {
			for end := i + 8; i < end; i++ {
				c := s[i]
				e := escapeWidth[c]
				if e > 1 {
					return dst[:n+j], i
				}
				out[j] = '\\'
				out[j+int(e)] = escapeByte[c]
				j += 1 + int(e)
			}
			continue
		}
		// Exact masks of the quotes and backslashes (zero bytes of w^c).
		q, b := w^(ones*'"'), w^(ones*'\\')
		m := ^(q&lows + lows | q | lows) | ^(b&lows + lows | b | lows)
		for m != 0 {
			k := bits.TrailingZeros64(m) >> 3
			out[j+k] = '\\'
			binary.LittleEndian.PutUint64(out[j+k+1:], w>>(8*k))
			j++
			m &= m - 1
		}
		i += 8
		j += 8
	}
	for ; i < len(s); i++ {
		c := s[i]
		e := escapeWidth[c]
		if e > 1 {
			return dst[:n+j], i
		}
		out[j] = '\\'
		out[j+int(e)] = escapeByte[c]
		j += 1 + int(e)
	}
	return dst[:n+j], i
}

// escapeMask has the high bit set in the lowest byte of w that is a quote,
// a backslash, a control byte or a non-ASCII byte, if there is one (bytes
// above it may be marked wrongly: the borrow of the subtraction runs up).
func escapeMask(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := w^(ones*'"'), w^(ones*'\\')
	return ((w-ones*0x20)&^w | (quote-ones)&^quote | (backslash-ones)&^backslash | w) & highs
}

// escapeWidth is 0 for a byte written as it is, 1 for one written after a
// backslash (as escapeByte gives it), 2 for one appendQuotedRun leaves to
// appendString.
var escapeWidth, escapeByte = func() (w, b [256]byte) {
	for c := range 256 {
		b[c] = byte(c)
		switch {
		case c == '"' || c == '\\':
			w[c] = 1
		case c == '\n':
			w[c], b[c] = 1, 'n'
		case c == '\r':
			w[c], b[c] = 1, 'r'
		case c == '\t':
			w[c], b[c] = 1, 't'
		case c < 0x20 || c >= 0x80:
			w[c] = 2
		}
	}
	return w, b
}()

// appendSortedJSON writes a parsed JSON value as appendSortedJSON writes
// its converted form (numbers as Python writes them back, keys sorted, the
// last of duplicate keys kept), without converting it.
func (r *record) appendSortedJSON(dst []byte, v *jsonValue) []byte {
	switch v.Type() {
	case jsonObject:
		type member struct {
			key string
			v   *jsonValue
		}
		var buf [32]member
		members := buf[:0]
	next:
		for _, kv := range v.members() {
			for i := range members {
				if members[i].key == kv.key {
					members[i].v = kv.val // the last duplicate wins
					continue next
				}
			}
			members = append(members, member{kv.key, kv.val})
		}
		slices.SortStableFunc(members, func(a, b member) int { return strings.Compare(a.key, b.key) })
		dst = append(dst, '{')
		for i, m := range members {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, m.key)
			dst = append(dst, ':')
			dst = r.appendSortedJSON(dst, m.v)
		}
		return append(dst, '}')
	case jsonArray:
		dst = append(dst, '[')
		for i, it := range v.items() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = r.appendSortedJSON(dst, it)
		}
		return append(dst, ']')
	case jsonString:
		return appendString(dst, v.text())
	case jsonNumber:
		if n, ok := r.intValue(v); ok {
			return strconv.AppendInt(dst, n, 10)
		}
		return appendJSON(dst, fromJSON(v), true)
	case jsonTrue:
		return append(dst, "true"...)
	case jsonFalse:
		return append(dst, "false"...)
	}
	return append(dst, "null"...)
}

// AppendJSONString appends s as a JSON string, the way documents write
// their text (invalid UTF-8 becomes U+FFFD), for packages that write JSON
// of their own around documents.
func AppendJSONString(dst, s []byte) []byte { return appendString(dst, b2s(s)) }
