package envelope

import (
	"bytes"
	"errors"
	"io"
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
//
// Damaged input never takes good input with it. A value that fails to
// parse is reported as an *Error holding exactly the bytes of the line it
// started on (from the value's line start, without the line break); when
// the value ran over into later lines, reading starts again on the line
// after the one where it started, so that a line cut short does not
// swallow the records that follow it. An envelope or array that starts on
// a line gives its records only once it is known to be whole: closed, or
// continued by a record on a later line that is followed by ',' or ']'.
type Reader struct {
	in    input
	line  int  // line of the next unconsumed byte, 1-based
	bol   bool // the next unconsumed byte starts a line
	idle  bool // waiting for input between values (see Partial)
	eof   bool
	mode  mode
	arr   array
	ready []span // records known good, not returned yet
	// longLine is set when a damaged line was longer than MaxRecordBytes:
	// its rest is reported in further errors.
	longLine bool
	stack    []byte
}

type mode int

const (
	atTop         mode = iota // between top-level values
	inArray                   // inside an array whose elements are records
	inEnvelopeEnd             // after the records array of an envelope
)

// array is the top-level array, or envelope, being streamed.
type array struct {
	envelope bool
	start    int64 // input offset of its line's first byte, or of itself when it does not start the line
	line     int
	// confirmed is set once the array is known not to be a line cut
	// short; until then its records are held back.
	confirmed bool
	held      []span
}

// span locates a record in the input.
type span struct {
	start, end int64
	line       int
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader {
	return &Reader{in: input{src: r}, line: 1, bol: true}
}

// NewBytesReader returns a Reader on b that reads it in place: the Bytes
// of the records it returns are slices of b (no copy), valid as long as b
// is, and never overlap. b must not change while it is read.
func NewBytesReader(b []byte) *Reader {
	return &Reader{in: input{buf: b, w: len(b)}, line: 1, bol: true}
}

// Partial reports whether the reader is in the middle of a value (or of a
// damaged line, or of an envelope whose records it holds back) and needs
// more input to finish it, as opposed to waiting between values. It is
// meant for a source that follows a growing file, from its Read when no
// data is available: between values it may wait as long as it likes; in
// the middle of one it should give up after a bound and return io.EOF, so
// that the incomplete value is reported with its raw bytes instead of
// holding back everything after it. The Reader reads on after that io.EOF
// when it is called again.
func (r *Reader) Partial() bool { return !r.idle }

// Next returns the next record. Unusable input yields an *Error (the reader
// then goes on with the input after it and can be called again); the end
// of the input yields io.EOF. A failure to read the input is returned as
// another error.
func (r *Reader) Next() (Record, error) {
	for {
		if len(r.ready) > 0 {
			s := r.ready[0]
			r.ready = r.ready[1:]
			return Record{Bytes: r.in.slice(s.start, s.end), Line: s.line}, nil
		}
		if r.eof {
			return Record{}, io.EOF
		}
		if r.longLine {
			start := r.in.pos()
			r.in.mark = start
			return Record{}, r.badLine(start, r.line, "continuation of an over-long line that is not JSON")
		}
		switch r.mode {
		case atTop:
			if rec, err, done := r.nextTop(); done {
				return rec, err
			}
		case inArray:
			if err := r.nextElement(); err != nil {
				return Record{}, err
			}
		case inEnvelopeEnd:
			if err := r.envelopeEnd(); err != nil {
				return Record{}, err
			}
		}
	}
}

// nextTop reads what starts the next top-level value.
func (r *Reader) nextTop() (Record, error, bool) {
	r.idle = true
	lead, err := r.skipSpace(true)
	r.idle = false
	if err != nil {
		if err == io.EOF {
			r.eof = true
			return Record{}, io.EOF, true
		}
		return Record{}, &readError{err}, true
	}
	start, line := r.in.pos(), r.line
	rawStart := start
	if lead >= 0 {
		rawStart = lead
	}
	r.in.mark = rawStart
	switch c := r.in.buf[r.in.r]; c {
	case '[':
		r.in.r++
		r.arr = array{start: rawStart, line: line, held: r.arr.held[:0]}
		r.mode = inArray
		return Record{}, nil, false
	case '{':
		isEnvelope, err := r.readTopObject()
		if err != nil {
			return Record{}, r.fail(rawStart, line, err), true
		}
		if isEnvelope {
			r.arr = array{envelope: true, start: rawStart, line: line, held: r.arr.held[:0]}
			r.mode = inArray
			return Record{}, nil, false
		}
		return Record{Bytes: r.in.slice(start, r.in.pos()), Line: line}, nil, true
	default:
		return Record{}, r.badLine(rawStart, line, "not JSON: a record or envelope must start with '{' or '[', found "+describeByte(c)), true
	}
}

// nextElement reads the next element of the array being streamed, and the
// ',' or ']' after it. The element goes to r.ready, or to the held records
// while the array is not confirmed.
func (r *Reader) nextElement() error {
	a := &r.arr
	r.idle = a.confirmed
	lead, err := r.skipSpace(a.confirmed)
	r.idle = false
	if err != nil {
		if err != io.EOF {
			return &readError{err}
		}
		return r.failArray("unexpected end of input inside an array of records (truncated?)")
	}
	if r.in.buf[r.in.r] == ']' {
		r.in.r++
		r.closeArray()
		return nil
	}
	start, line := r.in.pos(), r.line
	rawStart := start
	if lead >= 0 {
		rawStart = lead
	}
	if a.confirmed {
		r.in.mark = rawStart
	}
	if err := r.scanValue(start); err != nil {
		if !a.confirmed {
			return r.failArray(err.Error())
		}
		// Reading goes on with the next element, on the next line.
		return r.fail(rawStart, line, err)
	}
	end := r.in.pos()
	_, err = r.skipSpace(false)
	if err != nil && err != io.EOF {
		return &readError{err}
	}
	if err == io.EOF || (r.in.buf[r.in.r] != ',' && r.in.buf[r.in.r] != ']') {
		const reason = "expected ',' or ']' after a record (truncated line?)"
		if !a.confirmed {
			return r.failArray(reason)
		}
		// The array was cut off before this value: read it again as a
		// top-level value.
		r.in.seek(rawStart)
		r.line = line
		r.bol = lead >= 0
		r.mode = atTop
		return &Error{Line: a.line, Reason: "the array of records that starts here is not closed: " + reason}
	}
	sep := r.in.buf[r.in.r]
	r.in.r++
	s := span{start: start, end: end, line: line}
	if a.confirmed {
		r.ready = append(r.ready, s)
	} else {
		a.held = append(a.held, s)
		if line > a.line || end-a.start > MaxRecordBytes {
			// A record on a later line, followed by what follows a record
			// in an array: the array really spans lines. (Or it is too
			// large to hold back.)
			r.confirm()
		}
	}
	if sep == ']' {
		r.closeArray()
	}
	return nil
}

// confirm releases the records held back by the array being read.
func (r *Reader) confirm() {
	r.arr.confirmed = true
	r.ready = append(r.ready, r.arr.held...)
	r.arr.held = r.arr.held[:0]
}

func (r *Reader) closeArray() {
	if r.arr.envelope {
		r.mode = inEnvelopeEnd
		return
	}
	r.mode = atTop
	if !r.arr.confirmed {
		r.confirm()
	}
}

// failArray reports an array (or envelope) that is not what it seemed:
// before it was confirmed, it is the line it started on that is bad, and
// its records are not given (they are in that line's raw bytes).
func (r *Reader) failArray(reason string) error {
	a := &r.arr
	r.mode = atTop
	if !a.confirmed {
		a.held = a.held[:0]
		return r.fail(a.start, a.line, errors.New(reason))
	}
	return &Error{Line: a.line, Reason: "the array of records that starts here is not closed: " + reason}
}

// envelopeEnd reads the rest of an envelope after its records array.
func (r *Reader) envelopeEnd() error {
	a := &r.arr
	lead, err := r.skipSpace(a.confirmed)
	start, line := r.in.pos(), r.line
	rawStart := start
	if lead >= 0 {
		rawStart = lead
	}
	if a.confirmed {
		r.in.mark = rawStart
	}
	if err == nil {
		err = r.readEnvelopeEnd()
	} else if err == io.EOF {
		err = errTruncated
	} else {
		return &readError{err}
	}
	if err != nil {
		if !a.confirmed {
			return r.failArray(err.Error())
		}
		r.mode = atTop
		return r.fail(rawStart, line, err)
	}
	r.mode = atTop
	if !a.confirmed {
		r.confirm()
	}
	return nil
}

// skipSpace skips JSON whitespace (and UTF-8 byte order marks); it returns
// the input's error (io.EOF at its end) when there is nothing else. lead
// is where the line of the next value starts when only blanks precede it
// on its line, else -1. moveMark lets the buffer drop what is skipped.
func (r *Reader) skipSpace(moveMark bool) (lead int64, err error) {
	in := &r.in
	lead = -1
	if r.bol {
		lead = in.pos()
	}
	if moveMark {
		in.mark = in.pos()
	}
	for {
		for in.r < in.w {
			switch c := in.buf[in.r]; c {
			case ' ', '\t', '\r':
				in.r++
			case '\n':
				in.r++
				r.line++
				lead = in.pos()
				if moveMark {
					in.mark = lead
				}
			case 0xEF: // byte order mark EF BB BF
				// Waiting for the rest of it is waiting inside a line.
				idle := r.idle
				r.idle = false
				for in.w-in.r < 3 {
					if err := in.fill(); err != nil {
						in.err = err
						break
					}
				}
				r.idle = idle
				if b := in.buf[in.r:in.w]; len(b) >= 3 && b[1] == 0xBB && b[2] == 0xBF {
					in.r += 3
					continue
				}
				r.bol = false
				return lead, nil
			default:
				r.bol = false
				return lead, nil
			}
		}
		if err := in.fill(); err != nil {
			return lead, err
		}
	}
}

// fail reports the value that started at line, with its line's bytes from
// rawStart, after cause was found, and sets where reading goes on: when the
// value ran over into later lines, at the line after its first; else after
// the rest of its line, which goes with it.
func (r *Reader) fail(rawStart int64, line int, cause error) error {
	var re *readError
	if errors.As(cause, &re) {
		return re
	}
	consumed := r.in.slice(rawStart, r.in.pos())
	if i := bytes.IndexByte(consumed, '\n'); i >= 0 {
		raw := bytes.Clone(trimCR(consumed[:i]))
		r.in.seek(rawStart + int64(i) + 1)
		r.line = line + 1
		r.bol = true
		return &Error{Line: line, Reason: cause.Error(), Raw: raw}
	}
	if cause == errTruncated {
		// Nothing more to read now (a followed file may grow later, and
		// what comes then is read as new input).
		return &Error{Line: line, Reason: cause.Error(), Raw: bytes.Clone(trimCR(consumed))}
	}
	return r.badLine(rawStart, line, cause.Error())
}

// badLine reports the line whose bytes start at rawStart, reading the rest
// of it, as an *Error.
func (r *Reader) badLine(rawStart int64, line int, reason string) error {
	in := &r.in
	in.mark = rawStart
	r.longLine = false
	for {
		if i := bytes.IndexByte(in.buf[in.r:in.w], '\n'); i >= 0 {
			in.r += i + 1
			r.line++
			r.bol = true
			raw := in.slice(rawStart, in.pos()-1)
			return &Error{Line: line, Reason: reason, Raw: bytes.Clone(trimCR(raw))}
		}
		in.r = in.w
		if in.pos()-rawStart > MaxRecordBytes {
			r.longLine = true
			break
		}
		if err := in.fill(); err != nil {
			if err != io.EOF {
				in.err = err // reported by the next read
			}
			break
		}
	}
	r.bol = false
	return &Error{Line: line, Reason: reason, Raw: bytes.Clone(in.slice(rawStart, in.pos()))}
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// readTopObject reads a top-level object. When the object turns out to be
// an envelope (a "records" key whose value is an array), it stops right
// after the array's '[' and reports isEnvelope, so that the records are
// streamed one by one instead of buffered.
func (r *Reader) readTopObject() (isEnvelope bool, err error) {
	in := &r.in
	in.r++ // '{'
	for first := true; ; first = false {
		if err := r.skipIn(); err != nil {
			return false, err
		}
		c := in.buf[in.r]
		if c == '}' {
			in.r++
			return false, nil
		}
		if !first {
			if c != ',' {
				return false, grammarErr(stAfter, c)
			}
			in.r++
			if err := r.skipIn(); err != nil {
				return false, err
			}
			c = in.buf[in.r]
		}
		if c != '"' {
			return false, grammarErr(stKey, c)
		}
		keyStart := in.pos()
		if err := r.scanValue(keyStart); err != nil {
			return false, err
		}
		isRecords := string(in.slice(keyStart, in.pos())) == `"records"`
		if err := r.colon(); err != nil {
			return false, err
		}
		if isRecords && in.buf[in.r] == '[' {
			in.r++
			return true, nil
		}
		if err := r.scanValue(in.pos()); err != nil {
			return false, err
		}
	}
}

// colon reads the ':' after a key and the blanks after it.
func (r *Reader) colon() error {
	if err := r.skipIn(); err != nil {
		return err
	}
	if c := r.in.buf[r.in.r]; c != ':' {
		return grammarErr(stColon, c)
	}
	r.in.r++
	return r.skipIn()
}

// readEnvelopeEnd reads what follows the records array of an envelope up
// to and including its closing brace: more members, or none.
func (r *Reader) readEnvelopeEnd() error {
	in := &r.in
	for {
		c := in.buf[in.r]
		if c == '}' {
			in.r++
			return nil
		}
		if c != ',' {
			return grammarErr(stAfter, c)
		}
		in.r++
		if err := r.skipIn(); err != nil {
			return err
		}
		if c := in.buf[in.r]; c != '"' {
			return grammarErr(stKey, c)
		}
		if err := r.scanValue(in.pos()); err != nil {
			return err
		}
		if err := r.colon(); err != nil {
			return err
		}
		if err := r.scanValue(in.pos()); err != nil {
			return err
		}
		if err := r.skipIn(); err != nil {
			return err
		}
	}
}
