package envelope

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// MaxRecordBytes bounds the size of one record (or of one top-level value
// that is not an envelope or an array). Larger values are reported as errors
// and skipped, so that memory stays bounded whatever the input.
const MaxRecordBytes = 64 << 20

// Reader streams records out of an input of any supported shape: one
// envelope or record per line, a JSON array of records, or a pretty-printed
// envelope or array spread over many lines. Top-level arrays and the
// "records" array of an envelope are streamed element by element, so memory
// stays bounded by the largest single record, whatever the input's size.
type Reader struct {
	br   *bufio.Reader
	line int // line of the next unread byte, 1-based
	buf  []byte

	// mode says where the reader stands between calls.
	mode mode
	// inEnvelope is set while streaming the "records" array of an
	// envelope: after the array, the rest of the envelope is skipped.
	inEnvelope bool
	eof        bool
}

type mode int

const (
	atTop   mode = iota // between top-level values
	inArray             // inside an array whose elements are records
)

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 1<<20), line: 1}
}

// errSyntax is an internal signal: the current value is malformed.
type errSyntax struct{ reason string }

func (e *errSyntax) Error() string { return e.reason }

// Next returns the next record. Unusable input yields an *Error (the reader
// then resynchronizes on the next line that starts a JSON value and can be
// called again); the end of the input yields io.EOF.
func (r *Reader) Next() (Record, error) {
	for {
		if r.eof {
			return Record{}, io.EOF
		}
		if err := r.skipSpace(); err != nil {
			if r.mode == inArray {
				return Record{}, r.fail(r.line, "unexpected end of input inside an array of records (truncated?)", nil)
			}
			r.eof = true
			return Record{}, io.EOF
		}
		c, _ := r.peek()
		switch r.mode {
		case atTop:
			start := r.line
			switch c {
			case '[':
				r.readByte()
				r.mode = inArray
				r.inEnvelope = false
				continue
			case '{':
				rec, isEnvelope, err := r.readTopObject()
				if err != nil {
					return Record{}, r.fail(start, err.Error(), r.buf)
				}
				if isEnvelope {
					r.mode = inArray
					r.inEnvelope = true
					continue
				}
				return Record{Bytes: rec, Line: start}, nil
			default:
				return Record{}, r.fail(start, "not JSON: a record or envelope must start with '{' or '[', found "+describeByte(c), nil)
			}
		case inArray:
			switch c {
			case ']':
				r.readByte()
				r.mode = atTop
				if r.inEnvelope {
					r.inEnvelope = false
					if err := r.skipEnvelopeRest(); err != nil {
						return Record{}, r.fail(r.line, err.Error(), nil)
					}
				}
				continue
			case ',':
				r.readByte()
				continue
			}
			start := r.line
			r.buf = r.buf[:0]
			if err := r.readValue(); err != nil {
				return Record{}, r.fail(start, err.Error(), r.buf)
			}
			return Record{Bytes: r.buf, Line: start}, nil
		}
	}
}

// fail builds an *Error for the value that started at line, then skips the
// rest of the damaged input up to the next line that looks like the start
// of a value, keeping every skipped byte in Raw so that nothing is lost.
func (r *Reader) fail(line int, reason string, partial []byte) *Error {
	raw := append([]byte(nil), partial...)
	r.mode = atTop
	r.inEnvelope = false
	// Skip to the end of the current line, unless the damage ended it.
	for len(raw) == 0 || raw[len(raw)-1] != '\n' {
		c, err := r.readByte()
		if err != nil {
			r.eof = true
			break
		}
		raw = append(raw, c)
		if c == '\n' {
			break
		}
	}
	// Skip following lines that cannot start a value (the tail of a broken
	// pretty-printed object), so one error is reported, not one per line.
	for !r.eof {
		line, err := r.br.Peek(1)
		if err != nil {
			break
		}
		if line[0] == '{' || line[0] == '[' || line[0] == '\n' || line[0] == '\r' {
			break
		}
		for {
			c, err := r.readByte()
			if err != nil {
				r.eof = true
				break
			}
			raw = append(raw, c)
			if c == '\n' {
				break
			}
		}
	}
	return &Error{Line: line, Reason: reason, Raw: bytes.TrimRight(raw, "\r\n")}
}

func (r *Reader) peek() (byte, error) {
	b, err := r.br.Peek(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (r *Reader) readByte() (byte, error) {
	c, err := r.br.ReadByte()
	if err == nil && c == '\n' {
		r.line++
	}
	return c, err
}

// skipSpace skips JSON whitespace (and a UTF-8 byte order mark); it returns
// io.EOF when the input ends.
func (r *Reader) skipSpace() error {
	for {
		c, err := r.peek()
		if err != nil {
			return io.EOF
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			r.readByte()
		case 0xEF: // byte order mark EF BB BF
			b, _ := r.br.Peek(3)
			if len(b) == 3 && b[1] == 0xBB && b[2] == 0xBF {
				r.br.Discard(3)
				continue
			}
			return nil
		default:
			return nil
		}
	}
}

// readTopObject reads a top-level object into r.buf. When the object turns
// out to be an envelope (a "records" key whose value is an array), it stops
// right after the array's '[' and reports isEnvelope, so that the records
// are streamed one by one instead of buffered.
func (r *Reader) readTopObject() (rec []byte, isEnvelope bool, err error) {
	r.buf = r.buf[:0]
	c, _ := r.readByte()
	r.buf = append(r.buf, c)
	for {
		r.copySpace()
		c, err := r.peek()
		if err != nil {
			return nil, false, errTruncated
		}
		if c == '}' {
			r.readByte()
			r.buf = append(r.buf, c)
			return r.buf, false, nil
		}
		if c == ',' {
			r.readByte()
			r.buf = append(r.buf, c)
			continue
		}
		if c != '"' {
			return nil, false, fmt.Errorf("invalid JSON: expected a key, found %q", c)
		}
		keyStart := len(r.buf)
		if err := r.readString(); err != nil {
			return nil, false, err
		}
		key := r.buf[keyStart:]
		r.copySpace()
		if c, err := r.readByte(); err != nil || c != ':' {
			return nil, false, errors.New("invalid JSON: expected ':' after a key")
		}
		r.buf = append(r.buf, ':')
		r.copySpace()
		if string(key) == `"records"` {
			if c, _ := r.peek(); c == '[' {
				r.readByte()
				return nil, true, nil
			}
		}
		if err := r.readValue(); err != nil {
			return nil, false, err
		}
	}
}

// skipEnvelopeRest consumes what follows the records array of an envelope
// up to and including its closing brace.
func (r *Reader) skipEnvelopeRest() error {
	r.buf = r.buf[:0]
	for {
		r.copySpace()
		c, err := r.peek()
		if err != nil {
			return errTruncated
		}
		switch c {
		case '}':
			r.readByte()
			return nil
		case ',', ':':
			r.readByte()
		default:
			if err := r.readValue(); err != nil {
				return err
			}
		}
	}
}

var errTruncated = errors.New("truncated JSON: the input ends inside a value")

func (r *Reader) copySpace() {
	for {
		c, err := r.peek()
		if err != nil {
			return
		}
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return
		}
		r.readByte()
		r.buf = append(r.buf, c)
	}
}

// readValue appends one complete JSON value to r.buf. It checks the
// structure (brackets, strings) but not the scalars: the normalizer's full
// parse reports those.
func (r *Reader) readValue() error {
	if c, err := r.peek(); err == nil && (c == ',' || c == ':' || c == '}' || c == ']') {
		r.readByte()
		r.buf = append(r.buf, c)
		return fmt.Errorf("invalid JSON: expected a value, found %q", c)
	}
	var stack []byte
	for {
		if len(r.buf) > MaxRecordBytes {
			return fmt.Errorf("record larger than %d bytes", MaxRecordBytes)
		}
		if len(stack) > 0 {
			var done bool
			if stack, done = r.scanBuffered(stack); done {
				return nil
			}
		}
		c, err := r.peek()
		if err != nil {
			return errTruncated
		}
		switch c {
		case '"':
			if err := r.readString(); err != nil {
				return err
			}
		case '{', '[':
			r.readByte()
			r.buf = append(r.buf, c)
			stack = append(stack, c)
		case '}', ']':
			want := byte('{')
			if c == ']' {
				want = '['
			}
			if len(stack) == 0 || stack[len(stack)-1] != want {
				return fmt.Errorf("invalid JSON: unexpected %q", c)
			}
			r.readByte()
			r.buf = append(r.buf, c)
			stack = stack[:len(stack)-1]
		case ',', ':':
			if len(stack) == 0 {
				return nil
			}
			r.readByte()
			r.buf = append(r.buf, c)
		case ' ', '\t', '\r', '\n':
			if len(stack) == 0 {
				return nil
			}
			r.readByte()
			r.buf = append(r.buf, c)
		default:
			r.readByte()
			r.buf = append(r.buf, c)
		}
		if len(stack) == 0 {
			// A scalar continues until a delimiter; a container or string
			// is complete now.
			if c == '"' || c == '}' || c == ']' {
				return nil
			}
			if next, err := r.peek(); err != nil || isDelimiter(next) {
				return nil
			}
		}
	}
}

// scanBuffered is readValue's fast path inside a container: it copies what
// it can of the value from the read buffer in one go, instead of a call
// per byte, and stops (leaving the byte to readValue) at anything it does
// not simply copy: a bracket that does not match, a line break inside a
// string, a string or escape cut by the end of the buffer. done is set when
// the outermost container closed.
func (r *Reader) scanBuffered(stack []byte) (_ []byte, done bool) {
	chunk, _ := r.br.Peek(r.br.Buffered())
	i := 0
scan:
	for i < len(chunk) {
		switch c := chunk[i]; c {
		case '"':
			j := i + 1
			for {
				k := indexStringStop(chunk[j:])
				if k < 0 {
					break scan
				}
				j += k
				if chunk[j] == '"' {
					break
				}
				if chunk[j] == '\n' || j+1 >= len(chunk) {
					break scan
				}
				j += 2 // a backslash and the byte it escapes
			}
			i = j + 1
		case '{', '[':
			stack = append(stack, c)
			i++
		case '}', ']':
			want := byte('{')
			if c == ']' {
				want = '['
			}
			if stack[len(stack)-1] != want {
				break scan
			}
			stack = stack[:len(stack)-1]
			i++
			if len(stack) == 0 {
				done = true
				break scan
			}
		default:
			i++
		}
	}
	r.line += bytes.Count(chunk[:i], []byte{'\n'})
	r.buf = append(r.buf, chunk[:i]...)
	r.br.Discard(i)
	return stack, done
}

func isDelimiter(c byte) bool {
	switch c {
	case ',', ']', '}', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// readString appends one JSON string (with its quotes) to r.buf.
func (r *Reader) readString() error {
	c, _ := r.readByte()
	r.buf = append(r.buf, c)
	for {
		// Fast path: copy up to the next quote or backslash at once.
		chunk, err := r.br.Peek(r.br.Buffered())
		if len(chunk) == 0 {
			if _, err = r.br.Peek(1); err != nil {
				return errTruncated
			}
			continue
		}
		i := indexStringStop(chunk)
		if i < 0 {
			r.buf = append(r.buf, chunk...)
			r.br.Discard(len(chunk))
			if len(r.buf) > MaxRecordBytes {
				return fmt.Errorf("record larger than %d bytes", MaxRecordBytes)
			}
			continue
		}
		r.buf = append(r.buf, chunk[:i]...)
		r.br.Discard(i)
		c, _ := r.readByte()
		r.buf = append(r.buf, c)
		switch c {
		case '"':
			return nil
		case '\n':
			return errors.New("invalid JSON: line break inside a string (truncated line?)")
		case '\\':
			e, err := r.readByte()
			if err != nil {
				return errTruncated
			}
			r.buf = append(r.buf, e)
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

// SplitBody calls fn with each record of one Event Hub message body. A body
// with no JSON at all returns ErrEmpty. A body that is damaged in places
// still yields every record that can be found; the returned *Error then
// holds, in Raw, all the bytes that were skipped, so that the caller can
// dead-letter them. Records passed to fn are only valid during the call.
func SplitBody(body []byte, fn func(rec []byte)) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return ErrEmpty
	}
	// The body is already in memory: a read buffer of its size (not the
	// 1 MiB a file reader gets) keeps a call per message cheap.
	size := min(len(body)+1, 1<<20)
	rd := &Reader{br: bufio.NewReaderSize(bytes.NewReader(body), size), line: 1}
	var bad *Error
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			if bad == nil {
				return nil
			}
			return bad
		}
		var e *Error
		if errors.As(err, &e) {
			if bad == nil {
				bad = &Error{Line: e.Line, Reason: e.Reason}
			} else {
				bad.Raw = append(bad.Raw, '\n')
			}
			bad.Raw = append(bad.Raw, e.Raw...)
			continue
		}
		fn(rec.Bytes)
	}
}

// describeByte names a byte for an error message: the character when it is
// printable ASCII, its value otherwise.
func describeByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", c)
	}
	return fmt.Sprintf("byte 0x%02x", c)
}
