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

// plain marks the bytes that go into a JSON string as they are.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainWord reports whether none of the eight bytes of w is a quote, a
// backslash, a control byte or a non-ASCII byte (classic SWAR tests).
func plainWord(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	hasLess := func(x uint64, n uint64) uint64 { return (x - ones*n) & ^x & highs }
	hasZero := func(x uint64) uint64 { return (x - ones) & ^x & highs }
	bad := hasLess(w, 0x20) | hasZero(w^(ones*'"')) | hasZero(w^(ones*'\\')) | w&highs
	return bad == 0
}

// appendString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD so
// that the output is always valid JSON.
//
// Most of the text is raw records, JSON with a quote or a backslash every
// nine bytes or so, at places no branch predictor guesses. So the text is
// read eight bytes at a time: a word with nothing to escape (found with
// bit tricks) is stored as it is; a word with something to escape is
// written byte by byte from its first such byte, without a branch per
// byte: each byte is written after a backslash that the next byte
// overwrites unless the byte needs it (often two or three bytes of a word
// do, as in \" inside AdditionalFields). Room for the worst common case
// (every byte doubled) is made once. Control bytes other than \n, \r, \t
// and non-ASCII bytes are rare and take the careful writer.
func appendString(dst []byte, s string) []byte {
	n := len(dst)
	dst = slices.Grow(dst, 2*len(s)+2)
	out := dst[n : n+2*len(s)+2]
	out[0] = '"'
	j := 1
	i := 0
	for i+8 <= len(s) {
		w := load64(s, i)
		binary.LittleEndian.PutUint64(out[j:], w)
		m := escapeMask(w)
		if m == 0 {
			i += 8
			j += 8
			continue
		}
		k := bits.TrailingZeros64(m) >> 3
		j += k
		for end := i + 8; i+k < end; k++ {
			c := s[i+k]
			e := escapeWidth[c]
			if e > 1 {
				return appendStringSlow(dst[:n+j], s[i+k:])
			}
			out[j] = '\\'
			out[j+int(e)] = escapeByte[c]
			j += 1 + int(e)
		}
		i += 8
	}
	for ; i < len(s); i++ {
		c := s[i]
		e := escapeWidth[c]
		if e > 1 {
			return appendStringSlow(dst[:n+j], s[i:])
		}
		out[j] = '\\'
		out[j+int(e)] = escapeByte[c]
		j += 1 + int(e)
	}
	out[j] = '"'
	return dst[:n+j+1]
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
// backslash (as escapeByte gives it), 2 for one appendString leaves to the
// careful writer.
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

// appendStringSlow continues a JSON string (its opening quote is already
// written) with text that may hold control bytes, non-ASCII text or
// invalid UTF-8, then closes it.
func appendStringSlow(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		for i+8 <= len(s) && plainWord(load64(s, i)) {
			i += 8
		}
		for i < len(s) && plain[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

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
