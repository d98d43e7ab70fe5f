package envelope

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
		if in.pos()-start > MaxRecordBytes {
			// Also when done: the bound must not depend on how much of
			// the value one read brought.
			return errTooLarge
		}
		if done {
			return nil
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

// skipIn skips whitespace inside a value; the end of the input there is
// errTruncated, and more than MaxRecordBytes from r.from errTooLarge.
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
		if in.pos()-r.from > MaxRecordBytes {
			return errTooLarge
		}
		if err := in.fill(); err != nil {
			return endErr(err)
		}
	}
}
