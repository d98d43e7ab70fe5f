package http_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	httpsrc "github.com/defender-intake/defender-intake/internal/source/http"
)

// dripBody is long enough that a client sending it a byte every
// dripEvery is still sending when the test ends.
const (
	dripBytes = 2000
	dripEvery = 50 * time.Millisecond
)

// Clients that send their bodies a byte at a time, as many as there are
// delivery slots, do not hold back a normal request: it is delivered
// while they are all still connected and sending.
func TestSlowBodiesDoNotBlockOthers(t *testing.T) {
	c := *httpsrc.DefaultConfig()
	c.MinBodyRateKB = 0 // they must not be cut while the test runs
	r := startRig(t, c)
	slow := make([]*slowClient, c.MaxConcurrent)
	for i := range slow {
		slow[i] = dialSlow(t, r.addr)
		slow[i].write(t, bodyHead(dripBytes))
		// Served: the handler reads its body.
		slow[i].expectContinue(t)
		slow[i].drip(strings.Repeat(" ", dripBytes), dripEvery)
	}
	got := r.post(t, deliverytest.Records(1, "normal")[0], nil)
	if got.code != http.StatusOK || got.Taken == nil || *got.Taken != 1 {
		t.Fatalf("normal request answered %d %q, want 200 with 1 taken", got.code, got.Message)
	}
	if n := len(r.docs(t)); n != 1 {
		t.Errorf("%d documents written, want 1", n)
	}
	for i, s := range slow {
		if err := s.writeErr.Load(); err != nil || s.sent.Load() >= int64(len(bodyHead(dripBytes))+dripBytes) {
			t.Errorf("slow client %d no longer sending (err %v, %d bytes sent): the test proves nothing", i, err, s.sent.Load())
		}
	}
}

// Past max_pending requests in progress, a request is answered 503 with
// Retry-After at once instead of waiting; once the slow ones go, requests
// are served again.
func TestTooManyPendingAnswered503(t *testing.T) {
	c := *httpsrc.DefaultConfig()
	c.MaxPending, c.MinBodyRateKB = 3, 0
	r := startRig(t, c)
	slow := make([]*slowClient, c.MaxPending)
	for i := range slow {
		slow[i] = dialSlow(t, r.addr)
		slow[i].write(t, bodyHead(dripBytes))
		slow[i].expectContinue(t)
		slow[i].drip(strings.Repeat(" ", dripBytes), dripEvery)
	}
	got := r.post(t, deliverytest.Records(1, "turned-away")[0], nil)
	if got.code != http.StatusServiceUnavailable || got.retryAfter == "" {
		t.Fatalf("request past max_pending answered %d (Retry-After %q), want 503 with Retry-After", got.code, got.retryAfter)
	}
	for _, s := range slow {
		s.close()
	}
	// The server notices the closed connections on its own time: poll,
	// bounded.
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		got = r.post(t, deliverytest.Records(1, "after")[0], nil)
		if got.code == http.StatusOK {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("still answered %d once the slow clients left", got.code)
		}
	}
}

// A body not received within body_timeout is answered 408 and its
// connection closed, while the client is still sending.
func TestBodyTimeout(t *testing.T) {
	c := *httpsrc.DefaultConfig()
	c.BodyTimeout = 300 * time.Millisecond
	r := startRig(t, c)
	s := dialSlow(t, r.addr)
	s.write(t, bodyHead(dripBytes))
	s.expectContinue(t)
	s.drip(strings.Repeat(" ", dripBytes), dripEvery)
	resp := s.response(t)
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("slow body answered %s, want 408", resp.Status)
	}
	if !s.closed() {
		t.Error("connection left open after the body timeout")
	}
	if n := s.sent.Load(); n >= int64(len(bodyHead(dripBytes))+dripBytes) {
		t.Errorf("the whole body (%d bytes) was sent: the timeout did not cut it", n)
	}
}

// A body sent slower than min_body_rate_kb is answered 408 and its
// connection closed once the grace has passed, long before body_timeout.
func TestSlowBodyCutByRate(t *testing.T) {
	c := *httpsrc.DefaultConfig()
	c.BodyTimeout, c.MinBodyRateKB = time.Hour, 1
	r := startRig(t, c)
	s := dialSlow(t, r.addr)
	s.write(t, bodyHead(dripBytes))
	s.expectContinue(t)
	s.drip(strings.Repeat(" ", dripBytes), dripEvery) // 20 bytes/s
	resp := s.response(t)
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("body at 20 bytes/s answered %s, want 408", resp.Status)
	}
	if !s.closed() {
		t.Error("connection left open after the rate cut")
	}
	if n := s.sent.Load(); n >= int64(len(bodyHead(dripBytes))+dripBytes) {
		t.Errorf("the whole body (%d bytes) was sent: the rate did not cut it", n)
	}
}

// Headers not received within read_header_timeout close the connection
// while the client is still sending them.
func TestHeaderTimeout(t *testing.T) {
	c := *httpsrc.DefaultConfig()
	c.ReadHeaderTimeout = 300 * time.Millisecond
	r := startRig(t, c)
	s := dialSlow(t, r.addr)
	head := "POST /ingest HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("a", dripBytes) + "\r\n\r\n"
	s.drip(head, dripEvery)
	if !s.closed() {
		t.Error("connection left open after the header timeout")
	}
	if n := s.sent.Load(); n >= int64(len(head)) {
		t.Errorf("the whole head (%d bytes) was sent: the timeout did not cut it", n)
	}
}
