package http

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
	"unsafe"

	"github.com/defender-intake/defender-intake/internal/envelope"
	"github.com/defender-intake/defender-intake/internal/pipeline"
)

func (s *Source) maxBody() int64 { return int64(s.cfg.MaxBodyMB) << 20 }

// bodyGrace is how long a body may take before min_body_rate_kb applies:
// it covers a client that connects, then takes a moment to send.
const bodyGrace = 5 * time.Second

// errTooSlow is the error of a body cut for falling below the minimum rate.
var errTooSlow = errors.New("body slower than the minimum rate")

// readBody reads the whole body, at most max_body_mb, by deadline at the
// latest and no slower than min_body_rate_kb, holding its memory in h.
func (s *Source) readBody(w http.ResponseWriter, r *http.Request, rc *http.ResponseController, deadline time.Time, h *hold) ([]byte, error) {
	// Memory is taken as bytes arrive, never on the client's word: a
	// Content-Length that is not followed by a body held that much of
	// max_memory_mb for nothing (16 such clients held all of it). An
	// honest length only stops the buffer from growing past it.
	expect := int64(0)
	if r.ContentLength > 0 {
		expect = r.ContentLength + 1
	}
	p := &pacedBody{r: http.MaxBytesReader(w, r.Body, s.maxBody()), rc: rc, start: time.Now(),
		minRate: int64(s.cfg.MinBodyRateKB) << 10, deadline: deadline}
	raw, err := readAll(p, min(64<<10, max(expect, 512)), expect, s.maxBody(), h)
	if err != nil && p.paced && errors.Is(err, os.ErrDeadlineExceeded) {
		err = errTooSlow
	}
	return raw, err
}

// pacedBody enforces the minimum rate: before each read it moves the
// connection's read deadline to the moment the body would fall below
// minRate on average (after bodyGrace), never past the body deadline.
// A client that keeps up never meets it.
type pacedBody struct {
	r        io.Reader
	rc       *http.ResponseController
	start    time.Time
	n        int64
	minRate  int64 // bytes per second; 0: no minimum
	deadline time.Time
	// paced says the deadline in force is the rate's, not body_timeout's.
	paced bool
}

func (p *pacedBody) Read(b []byte) (int, error) {
	if p.minRate > 0 {
		due := p.start.Add(bodyGrace + time.Duration(p.n*int64(time.Second)/p.minRate))
		p.paced = due.Before(p.deadline)
		if !p.paced {
			due = p.deadline
		}
		_ = p.rc.SetReadDeadline(due)
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	return n, err
}

// encoding is a supported Content-Encoding.
type encoding int

const (
	identity encoding = iota
	gzipped
	deflated
)

// encodingOf reads a Content-Encoding header: one coding, any case
// (RFC 9110). Stacked codings are not supported.
func encodingOf(header string) (encoding, bool) {
	switch strings.ToLower(strings.TrimSpace(header)) {
	case "", "identity":
		return identity, true
	case "gzip", "x-gzip":
		return gzipped, true
	case "deflate":
		return deflated, true
	}
	return identity, false
}

// badBody says why a body could not be decoded, and the answer it gets.
type badBody struct {
	status int
	reason string
}

// decode returns the body with its Content-Encoding removed, holding the
// decoded bytes in h. A body that decodes to more than maxDecoded bytes
// (a compression bomb) or does not decode is refused: it is dead-lettered
// as sent, and answered 413 or 400. The bytes after the last whole member
// of a gzip body, unless padding, are returned as a tail to dead-letter.
// The error is errNoMemory or nil.
func decode(enc encoding, raw []byte, maxDecoded int64, h *hold) ([]byte, *badBody, *badTail, error) {
	var (
		zr      io.Reader
		err     error
		name    string
		members *gzipMembers
	)
	if len(raw) == 0 {
		// Nothing to decode: an empty body whatever its coding.
		return raw, nil, nil, nil
	}
	switch enc {
	case identity:
		return raw, nil, nil, nil
	case gzipped:
		name = "gzip"
		members, err = newGzipMembers(raw)
		zr = members
	case deflated:
		name = "deflate"
		zr, err = zlib.NewReader(bytes.NewReader(raw))
		if errors.Is(err, zlib.ErrHeader) {
			// "deflate" is zlib (RFC 9110), but some clients send a
			// raw deflate stream under it (.NET's DeflateStream, old
			// libraries): read that rather than refuse every body.
			zr, err = flate.NewReader(bytes.NewReader(raw)), nil
		}
	}
	if err != nil {
		return nil, &badBody{http.StatusBadRequest, fmt.Sprintf("%s body does not decode: %v", name, err)}, nil, nil
	}
	// Compressed JSON is commonly 5 to 20 times smaller: start there
	// rather than double from a small buffer.
	out, err := readAll(zr, 8*int64(len(raw)), 0, maxDecoded, h)
	switch {
	case errors.Is(err, errNoMemory):
		h.shrink(int64(cap(out)))
		return nil, nil, nil, err
	case errors.Is(err, errOverLimit):
		h.shrink(int64(cap(out)))
		return nil, &badBody{http.StatusRequestEntityTooLarge, fmt.Sprintf("%s body decodes to more than %d MB", name, maxDecoded>>20)}, nil, nil
	case err != nil:
		h.shrink(int64(cap(out)))
		return nil, &badBody{http.StatusBadRequest, fmt.Sprintf("%s body does not decode: %v", name, err)}, nil, nil
	}
	if members == nil || members.tail == nil {
		return out, nil, nil, nil
	}
	if members.cut >= 0 {
		out = out[:members.cut]
	}
	return out, nil, members.tail, nil
}

// messageBytes is what one message costs besides its bytes, which are
// the body's: a body of tiny records costs far more than its size.
const messageBytes = int64(unsafe.Sizeof(pipeline.Message{}))

// errTooManyRecords says a body holds more than max_records records and
// unusable stretches.
var errTooManyRecords = errors.New("too many records")

// split cuts body into one message per record and one per unusable
// stretch of input (dead-lettered by the pipeline with its reason and raw
// bytes), in input order. Records are slices of body (no copy). At most
// max_records messages are made, their memory held in h: a body of tiny
// records ("{}" or "1" a line) made millions, and one 20 KB gzip request
// took 11 GB. The error is errTooManyRecords or errNoMemory.
func (s *Source) split(body []byte, seq int64, h *hold) ([]pipeline.Message, error) {
	rd := envelope.NewBytesReader(body)
	var msgs []pipeline.Message
	for i := int64(0); ; i++ {
		rec, err := rd.Next()
		if err == io.EOF {
			return msgs, nil
		}
		if len(msgs) == s.cfg.MaxRecords {
			return nil, errTooManyRecords
		}
		if len(msgs) == cap(msgs) {
			old, grown := cap(msgs), max(64, 2*cap(msgs))
			if !h.grow(int64(grown) * messageBytes) {
				return nil, errNoMemory
			}
			msgs = append(make([]pipeline.Message, 0, grown), msgs...)
			h.shrink(int64(old) * messageBytes)
		}
		msg := pipeline.Message{Origin: s.origin(seq, i)}
		var bad *envelope.Error
		switch {
		case errors.As(err, &bad):
			// Raw is a copy of the bad input.
			if !h.grow(int64(len(bad.Raw))) {
				return nil, errNoMemory
			}
			msg.Body, msg.DecodeError = bad.Raw, bad.Error()
		case err != nil:
			// Reading from memory fails only on the reader's own
			// bounds; the rest of the body goes to the dead letters.
			return append(msgs, pipeline.Message{Origin: msg.Origin, Body: body, DecodeError: err.Error()}), nil
		default:
			// Capacity capped: the pipeline must not append over the
			// next record.
			msg.Body, msg.Single = rec.Bytes[:len(rec.Bytes):len(rec.Bytes)], true
		}
		msgs = append(msgs, msg)
	}
}

// origin is the origin of record index (or -1) of request seq.
func (s *Source) origin(seq, index int64) pipeline.Origin {
	return pipeline.Origin{Source: s.name, Type: "http", Stream: s.cfg.Path, Partition: "http",
		Offset: index, SequenceNumber: seq}
}
