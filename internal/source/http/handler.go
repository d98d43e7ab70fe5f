package http

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/defender-intake/defender-intake/internal/httpguard"
	"github.com/defender-intake/defender-intake/internal/pipeline"
)

// retryAfter is the Retry-After of every 503, in seconds: the conditions
// behind one (too many requests, a stuck sink) last seconds, not hours.
const retryAfter = "2"

// ServeHTTP accepts one POST. It reads the whole body (within
// body_timeout, min_body_rate_kb and max_body_mb) before it waits for a
// delivery slot, so a client that sends slowly only holds a max_pending
// place, and not for long.
func (s *Source) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	// Also bounds the server's drain of an unread body after an early
	// answer. Not supported outside a real server (tests call ServeHTTP
	// directly): ignored there.
	deadline := time.Now().Add(s.cfg.BodyTimeout)
	_ = rc.SetReadDeadline(deadline)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		s.refuseUnread(w, r, rc, http.StatusMethodNotAllowed, "use POST")
		return
	}
	if s.cfg.Token.IsSet() && !s.authorized(r.Header.Get("Authorization")) {
		w.Header().Set("WWW-Authenticate", "Bearer")
		s.refuseUnread(w, r, rc, http.StatusUnauthorized, "missing or wrong bearer token")
		return
	}
	if !s.cfg.Token.IsSet() {
		// Without a token the source listens on loopback only (config
		// check enforces it), but a browser on this machine can still
		// be made to post here by any page it shows.
		if cross, why := httpguard.CrossSite(r, httpguard.LocalPort(r)); cross {
			s.refuseUnread(w, r, rc, http.StatusForbidden, why)
			return
		}
	}
	enc, ok := encodingOf(r.Header.Get("Content-Encoding"))
	if !ok {
		w.Header().Set("Accept-Encoding", "gzip, deflate")
		s.refuseUnread(w, r, rc, http.StatusUnsupportedMediaType,
			fmt.Sprintf("Content-Encoding %q not supported: send identity, gzip or deflate", r.Header.Get("Content-Encoding")))
		return
	}
	if _, hasLength := r.Header["Content-Length"]; !hasLength && r.ContentLength == 0 && r.TransferEncoding == nil {
		// Without either, a request has no body (RFC 9112 6.3): what
		// a client sends after the head (an HTTP/1.0 client ending its
		// body by closing) was ignored, and answered 200 with nothing
		// taken. Say it instead.
		s.refuseUnread(w, r, rc, http.StatusLengthRequired, "send Content-Length or Transfer-Encoding: chunked (a body ended by closing the connection is not read)")
		return
	}
	if r.ContentLength > s.maxBody() {
		s.refuseUnread(w, r, rc, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d MB", s.cfg.MaxBodyMB))
		return
	}
	select {
	case s.pending <- struct{}{}:
		defer func() { <-s.pending }()
	default:
		w.Header().Set("Retry-After", retryAfter)
		s.refuseUnread(w, r, rc, http.StatusServiceUnavailable, fmt.Sprintf("%d requests in progress, retry later", s.cfg.MaxPending))
		return
	}

	h := s.budget.hold()
	defer func() {
		if !h.handed {
			h.release()
		}
	}()
	raw, err := s.readBody(w, r, rc, deadline, h)
	if err != nil {
		// Given back before the answer: a client that sends its next
		// request as soon as it reads this one must find the memory free.
		h.release()
		var tooBig *http.MaxBytesError
		switch {
		case errors.Is(err, errNoMemory):
			w.Header().Set("Retry-After", retryAfter)
			s.refuseUnread(w, r, rc, http.StatusServiceUnavailable, s.noMemory())
		case errors.As(err, &tooBig), errors.Is(err, errOverLimit):
			s.refuseUnread(w, r, rc, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d MB", s.cfg.MaxBodyMB))
		case errors.Is(err, errTooSlow):
			s.refuseUnread(w, r, rc, http.StatusRequestTimeout, fmt.Sprintf("body slower than %d KB/s", s.cfg.MinBodyRateKB))
		case errors.Is(err, os.ErrDeadlineExceeded):
			s.refuseUnread(w, r, rc, http.StatusRequestTimeout, fmt.Sprintf("body not received within %s", s.cfg.BodyTimeout))
		default:
			s.refuseUnread(w, r, rc, http.StatusBadRequest, "reading body: "+err.Error())
		}
		return
	}
	// The body is in: lift the deadline, or the server's check for a
	// closed connection would fail on it and cancel the request while
	// it waits for delivery.
	_ = rc.SetReadDeadline(time.Time{})

	seq := s.seq.Add(1)
	body, bad, tail, err := decode(enc, raw, int64(s.cfg.MaxDecodedMB)<<20, h)
	var msgs []pipeline.Message
	if err == nil && bad == nil {
		msgs, err = s.split(body, seq, h)
		if err == nil && tail != nil {
			msgs = append(msgs, pipeline.Message{Origin: s.origin(seq, -1), Body: tail.raw, DecodeError: tail.reason})
		}
		if errors.Is(err, errTooManyRecords) {
			err, bad = nil, &badBody{http.StatusRequestEntityTooLarge,
				fmt.Sprintf("more than %d records (or unusable stretches) in one body: send fewer per request", s.cfg.MaxRecords)}
		}
	}
	if err != nil {
		// errNoMemory: the body is read, the connection can serve more.
		h.release()
		w.Header().Set("Retry-After", retryAfter)
		s.reply(w, r, http.StatusServiceUnavailable, s.noMemory(), nil)
		return
	}
	switch {
	case bad != nil:
		// Kept as sent, for audit.
		msgs = []pipeline.Message{{Origin: s.origin(seq, -1), Body: raw, DecodeError: bad.reason}}
	case len(msgs) == 0:
		// No record and nothing wrong (a keep-alive, "[]"): the pipeline
		// counts it as an empty message.
		msgs = []pipeline.Message{{Origin: s.origin(seq, -1), Body: body}}
	case enc != identity && tail == nil:
		// The records are slices of the decoded body: the body as
		// sent is no longer needed (a tail is part of it).
		h.shrink(int64(cap(raw)))
		raw = nil
	}
	out, code, msg := s.deliver(r.Context(), msgs, h)
	switch {
	case code != http.StatusOK:
		w.Header().Set("Retry-After", retryAfter)
		s.reply(w, r, code, msg, nil)
	case bad != nil:
		s.reply(w, r, bad.status, bad.reason+" (dead-lettered)", &out)
	case out.Taken == 0 && out.Refused > 0:
		s.reply(w, r, http.StatusBadRequest, "no usable record (dead-lettered): "+out.Reason, &out)
	case out.Taken == 0 && out.Refused == 0:
		s.reply(w, r, http.StatusOK, "no records in the body", &out)
	case out.Refused > 0:
		s.reply(w, r, http.StatusOK, fmt.Sprintf("%d records delivered, %d refused (dead-lettered), first: %s", out.Taken, out.Refused, out.Reason), &out)
	default:
		s.reply(w, r, http.StatusOK, fmt.Sprintf("%d records delivered", out.Taken), &out)
	}
}

func (s *Source) noMemory() string {
	return fmt.Sprintf("the bodies of other requests fill max_memory_mb (%d MB), retry later", s.cfg.MaxMemoryMB)
}

// authorized checks an Authorization header against the token. The
// scheme is case-insensitive (RFC 7235). Both sides are hashed first so
// that the constant-time compare does not leak the token's length either.
func (s *Source) authorized(header string) bool {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimLeft(token, " ")))
	want := sha256.Sum256([]byte(s.cfg.Token.Value()))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// refuseUnread answers a request whose body was not (fully) read and
// closes the connection at once: the rest of the body is not waited for,
// and cannot be mistaken for the next request.
func (s *Source) refuseUnread(w http.ResponseWriter, r *http.Request, rc *http.ResponseController, code int, msg string) {
	w.Header().Set("Connection", "close")
	s.reply(w, r, code, msg, nil)
	_ = rc.Flush()
	_ = rc.SetReadDeadline(time.Now())
}

// answer is the JSON body of every answer; Taken and Refused are present
// once the records were handled.
type answer struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	Taken   *int   `json:"taken,omitempty"`
	Refused *int   `json:"refused,omitempty"`
}

// reply answers r; an answer other than 200 is counted and logged as a
// refusal.
func (s *Source) reply(w http.ResponseWriter, r *http.Request, code int, msg string, out *pipeline.Outcome) {
	if code != http.StatusOK {
		s.refusals.add(code, msg, r.RemoteAddr)
	}
	a := answer{Status: http.StatusText(code), Message: msg}
	if out != nil {
		a.Taken, a.Refused = &out.Taken, &out.Refused
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(a)
}
