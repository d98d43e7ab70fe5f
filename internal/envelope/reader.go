package envelope

import (
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
	// readyBuf is ready's memory, reused once ready is empty.
	readyBuf []span
	// longLine is set when a damaged line was longer than MaxRecordBytes:
	// its rest is reported in further errors.
	longLine bool
	stack    []byte
	// from is the input offset where the value being read, or the array
	// being held back, starts: the buffer keeps everything from there, so
	// the blanks that skipIn and skipSpace (without moving the mark) go
	// through count towards MaxRecordBytes from it, like the value's own
	// bytes do.
	from int64
	// resume is where reading can resume after the last item; arrItems
	// counts the items given from the array being streamed.
	resume   Position
	arrItems int
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
	midLine  bool // start is not at the start of a line
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
	return &Reader{in: input{src: r}, line: 1, bol: true, resume: Position{Line: 1}}
}

// NewBytesReader returns a Reader on b that reads it in place: the Bytes
// of the records it returns are slices of b (no copy), valid as long as b
// is, and never overlap. b must not change while it is read.
func NewBytesReader(b []byte) *Reader {
	return &Reader{in: input{buf: b, w: len(b)}, line: 1, bol: true, resume: Position{Line: 1}}
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
	rec, err := r.next()
	if _, bad := err.(*Error); err == nil || bad {
		r.track()
	}
	return rec, err
}

func (r *Reader) next() (Record, error) {
	for {
		if len(r.ready) > 0 {
			s := r.ready[0]
			r.ready = r.ready[1:]
			if len(r.ready) == 0 {
				r.ready = r.readyBuf[:0] // reuse its memory
			}
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
		r.arr = array{start: rawStart, line: line, midLine: lead < 0, held: r.arr.held[:0]}
		r.arrItems = 0
		r.mode = inArray
		return Record{}, nil, false
	case '{':
		r.from = start
		isEnvelope, err := r.readTopObject()
		if err == nil && r.in.pos()-start > MaxRecordBytes {
			err = errTooLarge
		}
		if err != nil {
			return Record{}, r.fail(rawStart, line, err), true
		}
		if isEnvelope {
			r.arr = array{envelope: true, start: rawStart, line: line, midLine: lead < 0, held: r.arr.held[:0]}
			r.arrItems = 0
			r.mode = inArray
			return Record{}, nil, false
		}
		return Record{Bytes: r.in.slice(start, r.in.pos()), Line: line}, nil, true
	default:
		reason := "not JSON: a record or envelope must start with '{' or '[', found " + describeByte(c)
		if start == 0 {
			reason += notText(r.in.buf[r.in.r:r.in.w])
		}
		return Record{}, r.badLine(rawStart, line, reason), true
	}
}

// nextElement reads the next element of the array being streamed, and the
// ',' or ']' after it. The element goes to r.ready, or to the held records
// while the array is not confirmed.
func (r *Reader) nextElement() error {
	a := &r.arr
	r.idle = a.confirmed
	r.from = a.start
	lead, err := r.skipSpace(a.confirmed)
	r.idle = false
	if err == errTooLarge {
		// Blanks after the records held back: too many to hold on to.
		r.confirm()
		return nil
	}
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
	r.from = start
	_, err = r.skipSpace(false)
	if err == errTooLarge {
		if !a.confirmed {
			return r.failArray(err.Error())
		}
		return r.fail(rawStart, line, err)
	}
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
		r.addReady(s)
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

func (r *Reader) addReady(s ...span) {
	r.ready = append(r.ready, s...)
	if cap(r.ready) > cap(r.readyBuf) {
		r.readyBuf = r.ready[:0]
	}
}

// confirm releases the records held back by the array being read.
func (r *Reader) confirm() {
	r.arr.confirmed = true
	r.addReady(r.arr.held...)
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
	r.from = a.start
	lead, err := r.skipSpace(a.confirmed)
	if err == errTooLarge {
		r.confirm() // as in nextElement
		return nil
	}
	start, line := r.in.pos(), r.line
	r.from = start
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
