package http

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

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
// latest and no slower than min_body_rate_kb.
func (s *Source) readBody(w http.ResponseWriter, r *http.Request, rc *http.ResponseController, deadline time.Time) ([]byte, error) {
	size := 64 << 10
	if r.ContentLength > 0 {
		// Not more than the limit: Content-Length is the client's word.
		size = int(min(r.ContentLength+1, s.maxBody()+1))
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	p := &pacedBody{r: http.MaxBytesReader(w, r.Body, s.maxBody()), rc: rc, start: time.Now(),
		minRate: int64(s.cfg.MinBodyRateKB) << 10, deadline: deadline}
	_, err := buf.ReadFrom(p)
	if err != nil && p.paced && errors.Is(err, os.ErrDeadlineExceeded) {
		err = errTooSlow
	}
	return buf.Bytes(), err
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

// decode returns the body with its Content-Encoding removed. A body that
// decodes to more than maxDecoded bytes (a compression bomb) or does not
// decode is refused: it is dead-lettered as sent, and answered 413 or 400.
func decode(enc encoding, raw []byte, maxDecoded int64) ([]byte, *badBody) {
	var (
		zr   io.Reader
		err  error
		name string
	)
	if len(raw) == 0 {
		// Nothing to decode: an empty body whatever its coding.
		return raw, nil
	}
	switch enc {
	case identity:
		return raw, nil
	case gzipped:
		name = "gzip"
		zr, err = gzip.NewReader(bytes.NewReader(raw))
	case deflated:
		name = "deflate"
		zr, err = zlib.NewReader(bytes.NewReader(raw))
	}
	if err != nil {
		return nil, &badBody{http.StatusBadRequest, fmt.Sprintf("%s body does not decode: %v", name, err)}
	}
	var out bytes.Buffer
	n, err := out.ReadFrom(io.LimitReader(zr, maxDecoded+1))
	switch {
	case n > maxDecoded:
		return nil, &badBody{http.StatusRequestEntityTooLarge, fmt.Sprintf("%s body decodes to more than %d MB", name, maxDecoded>>20)}
	case err != nil:
		return nil, &badBody{http.StatusBadRequest, fmt.Sprintf("%s body does not decode: %v", name, err)}
	}
	return out.Bytes(), nil
}

// readers are the 1 MB buffered readers of envelope.NewReader, reused
// between requests: envelope.NewReader keeps a *bufio.Reader that is
// already that large instead of allocating one.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 1<<20) }}

// split cuts body into one message per record and one per unusable
// stretch of input (dead-lettered by the pipeline with its reason and raw
// bytes), in input order. The messages share one buffer.
func (s *Source) split(body []byte, seq int64) []pipeline.Message {
	br := readers.Get().(*bufio.Reader)
	br.Reset(bytes.NewReader(body))
	defer func() {
		br.Reset(nil)
		readers.Put(br)
	}()
	rd := envelope.NewReader(br)
	// Records and bad stretches are disjoint parts of body: they fit.
	arena := make([]byte, 0, len(body))
	var msgs []pipeline.Message
	for i := int64(0); ; i++ {
		rec, err := rd.Next()
		if err == io.EOF {
			return msgs
		}
		msg := pipeline.Message{Origin: s.origin(seq, i)}
		start := len(arena)
		var bad *envelope.Error
		switch {
		case errors.As(err, &bad):
			arena = append(arena, bad.Raw...)
			msg.DecodeError = bad.Error()
		case err != nil:
			// Reading from memory fails only on the reader's own
			// bounds; the rest of the body goes to the dead letters.
			return append(msgs, pipeline.Message{Origin: msg.Origin, Body: body, DecodeError: err.Error()})
		default:
			arena = append(arena, rec.Bytes...)
			msg.Single = true
		}
		msg.Body = arena[start:len(arena):len(arena)]
		msgs = append(msgs, msg)
	}
}

// origin is the origin of record index (or -1) of request seq.
func (s *Source) origin(seq, index int64) pipeline.Origin {
	return pipeline.Origin{Source: s.name, Type: "http", Stream: s.cfg.Path, Partition: "http",
		Offset: index, SequenceNumber: seq}
}
