package envelope

import (
	"bytes"
	"errors"
	"io"
)

// skipSpace skips JSON whitespace (and UTF-8 byte order marks); it returns
// the input's error (io.EOF at its end) when there is nothing else. lead
// is where the line of the next value starts when only blanks precede it
// on its line, else -1. moveMark lets the buffer drop what is skipped;
// without it, blanks beyond MaxRecordBytes from r.from are errTooLarge.
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
		if !moveMark && in.pos()-r.from > MaxRecordBytes {
			return lead, errTooLarge
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
	raw := in.slice(rawStart, in.pos())
	if !r.longLine {
		// The end of the input: a "\r" last is a line end, as before a
		// "\n" (the part of an over-long line keeps it: the rest follows).
		raw = trimCR(raw)
	}
	return &Error{Line: line, Reason: reason, Raw: bytes.Clone(raw)}
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}
