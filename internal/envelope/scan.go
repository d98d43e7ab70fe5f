package envelope

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// maxDepth bounds the nesting of a value, like the normalizer's parser
// does. It also bounds how much input a damaged line that opens containers
// can swallow before it is found out and read again.
const maxDepth = 128

var (
	errTruncated = errors.New("truncated JSON: the input ends inside a value")
	errTooDeep   = fmt.Errorf("invalid JSON: more than %d levels of nesting", maxDepth)
	errTooLarge  = fmt.Errorf("record larger than %d bytes", MaxRecordBytes)
	errBreak     = errors.New("invalid JSON: line break inside a string (truncated line?)")
)

// readError is a failure of the source itself, not of its content: it ends
// the reading instead of being dead-lettered.
type readError struct{ err error }

func (e *readError) Error() string { return "read: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// endErr turns the end of the source inside a value into errTruncated.
func endErr(err error) error {
	if err == io.EOF {
		return errTruncated
	}
	return &readError{err}
}

// Where the grammar stands inside a value.
const (
	stValue        = iota // a value must come
	stValueOrClose        // after '[': a value or ']'
	stKey                 // after ',' in an object: a key
	stKeyOrClose          // after '{': a key or '}'
	stColon               // after a key
	stAfter               // after a value: ',' or the end of its container
)

// scalarByte marks the bytes that continue a number, true, false or null
// (or a junk word, which the normalizer's full parse refuses).
var scalarByte = func() (t [256]bool) {
	for i := range t {
		t[i] = true
	}
	for _, c := range " \t\r\n{}[],:\"" {
		t[c] = false
	}
	return t
}()

// scanValue consumes one JSON value that starts at the read position. It
// checks the grammar (brackets, strings, where keys, colons and commas go)
// but not the scalars, which the normalizer's full parse checks: what
// matters here is to find where a value ends, and to notice at once when a
// line that was cut off runs into the next one. On error the read position
// is at the offending byte.
func (r *Reader) scanValue(start int64) error {
	in := &r.in
	stack := r.stack[:0]
	defer func() { r.stack = stack[:0] }()
	st := stValue
	// A string or a scalar can be cut by the end of the buffer: it is then
	// finished after the next fill.
	var inStr, esc, isKey, inScalar bool
	var scalarStart int64
	for {
		buf := in.buf[:in.w]
		i := in.r
		var err error
		done := false
		if inStr {
			i, inStr, esc, err = scanString(buf, i, esc)
			if err == nil && !inStr {
				st, done = afterString(isKey, len(stack))
			}
		} else if inScalar {
			for i < len(buf) && scalarByte[buf[i]] {
				i++
			}
			if i < len(buf) {
				inScalar = false
				err = checkScalar(in.buf[scalarStart-in.base : i])
				done = len(stack) == 0
			}
		}
		if done || err != nil || inStr || inScalar {
			goto scanned
		}
	scan:
		for i < len(buf) {
			c := buf[i]
			switch c {
			case ' ', '\t', '\r', '\n':
				i++
			case '"':
				switch st {
				case stValue, stValueOrClose:
					isKey = false
				case stKey, stKeyOrClose:
					isKey = true
				default:
					err = grammarErr(st, c)
					break scan
				}
				// The string's text, inline: most of a record is strings.
				j := i + 1
				for {
					k := indexStringStop(buf[j:])
					if k < 0 {
						j, inStr = len(buf), true
						break
					}
					j += k
					if buf[j] == '"' {
						j++
						break
					}
					if buf[j] != '\\' {
						err = errBreak
						break
					}
					if j+1 == len(buf) {
						j, inStr, esc = len(buf), true, true
						break
					}
					j += 2
				}
				i = j
				if err != nil || inStr {
					break scan
				}
				// Compact records put ':' after a key and ',' after a
				// value at once: take them here, without a turn of the
				// switch.
				if isKey {
					st = stColon
					if i < len(buf) && buf[i] == ':' {
						st = stValue
						i++
					}
				} else if st = stAfter; len(stack) == 0 {
					done = true
					break scan
				} else if i < len(buf) && buf[i] == ',' {
					st = stValue
					if stack[len(stack)-1] == '{' {
						st = stKey
					}
					i++
				}
			case '{', '[':
				if st != stValue && st != stValueOrClose {
					err = grammarErr(st, c)
					break scan
				}
				if len(stack) == maxDepth {
					err = errTooDeep
					break scan
				}
				stack = append(stack, c)
				st = stKeyOrClose
				if c == '[' {
					st = stValueOrClose
				}
				i++
			case '}', ']':
				open, empty := byte('{'), stKeyOrClose
				if c == ']' {
					open, empty = '[', stValueOrClose
				}
				if st != stAfter && st != empty {
					err = grammarErr(st, c)
					break scan
				}
				if len(stack) == 0 || stack[len(stack)-1] != open {
					err = errors.New("invalid JSON: unexpected " + describeByte(c))
					break scan
				}
				stack = stack[:len(stack)-1]
				st = stAfter
				i++
				if len(stack) == 0 {
					done = true
					break scan
				}
			case ',':
				if st != stAfter || len(stack) == 0 {
					err = grammarErr(st, c)
					break scan
				}
				st = stValue
				if stack[len(stack)-1] == '{' {
					st = stKey
				}
				i++
			case ':':
				if st != stColon {
					err = grammarErr(st, c)
					break scan
				}
				st = stValue
				i++
			default:
				if st != stValue && st != stValueOrClose {
					err = grammarErr(st, c)
					break scan
				}
				st = stAfter
				j := i + 1
				for j < len(buf) && scalarByte[buf[j]] {
					j++
				}
				if j == len(buf) {
					inScalar = true
					scalarStart = in.base + int64(i)
					i = j
					break scan
				}
				err = checkScalar(buf[i:j])
				i = j
				if err != nil || len(stack) == 0 {
					done = true
					break scan
				}
				if buf[i] == ',' {
					st = stValue
					if stack[len(stack)-1] == '{' {
						st = stKey
					}
					i++
				}
			}
		}
	scanned:
		r.line += bytes.Count(buf[in.r:i], newline)
		in.r = i
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if in.pos()-start > MaxRecordBytes {
			return errTooLarge
		}
		if ferr := in.fill(); ferr != nil {
			if ferr == io.EOF && inScalar && len(stack) == 0 {
				// A bare scalar ends with the input.
				return checkScalar(in.slice(scalarStart, in.pos()))
			}
			return endErr(ferr)
		}
	}
}

// scanString goes through the text of a string from buf[i] (after its
// opening quote; esc: after a backslash) to after its closing quote. more
// is set when the buffer ends first.
func scanString(buf []byte, i int, esc bool) (next int, more, escaped bool, err error) {
	if esc {
		if i == len(buf) {
			return i, true, true, nil
		}
		i++
	}
	for {
		k := indexStringStop(buf[i:])
		if k < 0 {
			return len(buf), true, false, nil
		}
		i += k
		switch buf[i] {
		case '"':
			return i + 1, false, false, nil
		case '\\':
			if i+1 == len(buf) {
				return len(buf), true, true, nil
			}
			i += 2
		default:
			return i, false, false, errBreak
		}
	}
}

// afterString is the grammar's state after a string: a key wants its ':';
// a value at depth 0 is the whole value.
func afterString(isKey bool, depth int) (st int, done bool) {
	if isKey {
		return stColon, false
	}
	return stAfter, depth == 0
}

var newline = []byte{'\n'}

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

// skipIn skips whitespace inside a value; the end of the input there is
// errTruncated.
func (r *Reader) skipIn() error {
	in := &r.in
	for {
		for in.r < in.w {
			switch in.buf[in.r] {
			case ' ', '\t', '\r':
			case '\n':
				r.line++
			default:
				return nil
			}
			in.r++
		}
		if err := in.fill(); err != nil {
			return endErr(err)
		}
	}
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
