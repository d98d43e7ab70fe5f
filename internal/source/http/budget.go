package http

import (
	"errors"
	"io"
	"sync"
)

// errNoMemory says a request would take the body memory past
// max_memory_mb while other requests hold it: it is answered 503.
var errNoMemory = errors.New("memory for request bodies in use by other requests")

// errOverLimit says a body (as sent, or decoded) is over its size limit.
var errOverLimit = errors.New("over the size limit")

// budget bounds the memory held by the bodies of all the requests in
// progress: as sent, decoded, and split into messages, from the first
// byte read until the pipeline acknowledges the batch (a batch answered
// 503 on timeout still holds its memory while it is delivered). Without
// it, max_pending requests that each decode to max_decoded_mb held
// gigabytes: 32 gzip bodies of 100 KB took 7 GB.
type budget struct {
	mu          sync.Mutex
	used, limit int64
}

// hold is the part of the budget one request holds.
type hold struct {
	b *budget
	n int64
	// handed is set once the pipeline took the batch: its Ack releases
	// the hold, not the handler.
	handed bool
	once   sync.Once
}

func (b *budget) hold() *hold { return &hold{b: b} }

// grow takes n more bytes for h. It fails when that would pass the limit
// while other requests hold memory: a request alone is always let
// through (its own limits bound it), so that any body within max_body_mb
// and max_decoded_mb can be sent.
func (h *hold) grow(n int64) bool {
	b := h.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit && b.used > h.n {
		return false
	}
	b.used += n
	h.n += n
	return true
}

// shrink gives back n bytes that h no longer holds.
func (h *hold) shrink(n int64) {
	b := h.b
	b.mu.Lock()
	n = min(n, h.n)
	b.used -= n
	h.n -= n
	b.mu.Unlock()
}

// release gives back all that h holds; later calls do nothing.
func (h *hold) release() {
	h.once.Do(func() { h.shrink(h.n) })
}

// readAll reads r to its end into one buffer of initial bytes that
// doubles as needed, every byte of it held in h; it grows no further
// than expect bytes while they suffice (0: no expectation). It returns
// errOverLimit once it has more than limit bytes (the buffer never grows
// past limit+1), errNoMemory when h cannot grow, or r's error.
func readAll(r io.Reader, initial, expect, limit int64, h *hold) ([]byte, error) {
	size := min(max(initial, 512), limit+1)
	if !h.grow(size) {
		return nil, errNoMemory
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return buf, errOverLimit
			}
			next := min(2*int64(cap(buf)), limit+1)
			if expect > int64(cap(buf)) {
				next = min(next, expect)
			}
			if !h.grow(next) {
				return buf, errNoMemory
			}
			nb := make([]byte, len(buf), next)
			copy(nb, buf)
			h.shrink(int64(cap(buf)))
			buf = nb
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case int64(len(buf)) > limit:
			return buf, errOverLimit
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return buf, err
		}
	}
}
