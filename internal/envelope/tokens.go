package envelope

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
)

// grammarErr says what the grammar wanted in state st, and what came.
func grammarErr(st int, c byte) error {
	want := "a value"
	switch st {
	case stValueOrClose:
		want = "a value or ']'"
	case stKey:
		want = "a key"
	case stKeyOrClose:
		want = "a key or '}'"
	case stColon:
		want = "':' after a key"
	case stAfter:
		want = "',' or the end of the object or array (truncated line?)"
	}
	return fmt.Errorf("invalid JSON: expected %s, found %s", want, describeByte(c))
}

// validScalar reports whether b is true, false, null or a JSON number:
// checked so that a line cut short after a ':' cannot be completed by a
// junk word on the next line.
func validScalar(b []byte) bool {
	switch string(b) {
	case "true", "false", "null":
		return true
	}
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}

func checkScalar(b []byte) error {
	if validScalar(b) {
		return nil
	}
	if len(b) > 20 {
		b = b[:20]
	}
	return fmt.Errorf("invalid JSON: %q is not a value", b)
}

// indexStringStop returns the index of the first quote, backslash or line
// break in b, or -1: where the copy of a string's text stops. Records are
// mostly text, so it tests eight bytes at a time.
func indexStringStop(b []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	has := func(w uint64, c byte) uint64 {
		x := w ^ (ones * uint64(c))
		return (x - ones) &^ x & highs // exact for the lowest byte found
	}
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		if m := has(w, '"') | has(w, '\\') | has(w, '\n'); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c == '\n' {
			return i
		}
	}
	return -1
}

// describeByte names a byte for an error message: the character when it is
// printable ASCII, its value otherwise.
func describeByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", c)
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// notText names what an input is when its first bytes are those of a
// compressed file or of UTF-16 text, which are read as lines of junk:
// the first error then says what to do.
func notText(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		return " (a gzip-compressed file: decompress it first, e.g. gzip -dc FILE)"
	case bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return " (a zstd-compressed file: decompress it first, e.g. zstd -dc FILE)"
	case bytes.HasPrefix(b, []byte("BZh")):
		return " (a bzip2-compressed file: decompress it first, e.g. bzip2 -dc FILE)"
	case bytes.HasPrefix(b, []byte("PK\x03\x04")):
		return " (a zip archive: extract its files first)"
	case bytes.HasPrefix(b, []byte{0xff, 0xfe}), bytes.HasPrefix(b, []byte{0xfe, 0xff}):
		return " (UTF-16 text: convert it to UTF-8 first, e.g. iconv -f UTF-16 -t UTF-8 FILE)"
	}
	return ""
}
