package http_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/source"
	httpsrc "github.com/defender-intake/defender-intake/internal/source/http"
)

// A body of tiny records costs far more than its size (a message per
// record, a document per record): one 20 KB gzip body of "{}" lines took
// 11 GB. Past max_records records or unusable stretches, a body is
// refused with 413 and dead-lettered as sent, whatever its shape; the
// default bound holds with the default config.
func TestTooManyRecords(t *testing.T) {
	recs := deliverytest.Records(11, "many")
	tiny := bytes.Repeat([]byte("{}\n"), 200_000)
	tests := []struct {
		name       string
		maxRecords int // 0: the default
		encoding   string
		body       []byte
		code       int
		docs       int
	}{
		{name: "at the limit", maxRecords: 10, body: lines(recs[:10]...), code: 200, docs: 10},
		{name: "one over", maxRecords: 10, body: lines(recs...), code: http.StatusRequestEntityTooLarge},
		{name: "envelope one over", maxRecords: 10, body: deliverytest.Envelope(recs), code: http.StatusRequestEntityTooLarge},
		{name: "unusable lines count", maxRecords: 10, body: []byte(strings.Repeat("1\n", 11)), code: http.StatusRequestEntityTooLarge},
		{name: "gzip one over", maxRecords: 10, encoding: "gzip", body: gzipped(t, lines(recs...)), code: http.StatusRequestEntityTooLarge},
		{name: "200000 tiny records, default config", body: tiny, code: http.StatusRequestEntityTooLarge},
		{name: "200000 tiny records gzipped, default config", encoding: "gzip", body: gzipped(t, tiny), code: http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := *httpsrc.DefaultConfig()
			if tc.maxRecords > 0 {
				c.MaxRecords = tc.maxRecords
			}
			r := startRig(t, c)
			h := map[string]string{}
			if tc.encoding != "" {
				h["Content-Encoding"] = tc.encoding
			}
			got := r.post(t, tc.body, h)
			if got.code != tc.code {
				t.Fatalf("answered %d %q, want %d", got.code, got.Message, tc.code)
			}
			if n := len(r.docs(t)); n != tc.docs {
				t.Errorf("%d documents delivered, want %d", n, tc.docs)
			}
			if tc.code == 200 {
				return
			}
			dead := r.deadLetters(t)
			if len(dead) != 1 || !bytes.Equal(deadRaw(t, dead[0]), tc.body) {
				t.Errorf("%d dead letters, want 1 holding the body as sent", len(dead))
			}
			if !strings.Contains(got.Message, "records") {
				t.Errorf("answer %q does not say why", got.Message)
			}
		})
	}
}

// The bodies of all the requests in progress hold at most max_memory_mb,
// until their batch is acknowledged: while a batch of 800 KB waits for
// delivery, a request of 400 KB is answered 503 with Retry-After at once
// (1 MB in all), and served once the first is delivered. A request alone
// gets the memory its own limits allow, even past max_memory_mb.
func TestMemoryBudget(t *testing.T) {
	c := *httpsrc.DefaultConfig()
	c.Listen, c.Token = freeAddr(t), config.NewSecret(token)
	c.MaxMemoryMB, c.MaxBodyMB = 1, 2
	s := httpsrc.New("in", c, source.Env{})
	em := &heldEmitter{release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, em) }()
	defer func() {
		cancel()
		<-done
	}()
	for s.Addr() == "" {
		time.Sleep(time.Millisecond)
	}
	r := &rig{addr: s.Addr()}
	sized := func(n int) []byte {
		return append(lines(deliverytest.Records(1, "budget")...), bytes.Repeat([]byte(" "), n)...)
	}
	first := make(chan reply, 1)
	go func() { first <- r.post(t, sized(800<<10), nil) }()
	for held := 0; held == 0; time.Sleep(time.Millisecond) {
		em.mu.Lock()
		held = em.held
		em.mu.Unlock()
	}
	got := r.post(t, sized(400<<10), nil)
	if got.code != http.StatusServiceUnavailable || got.retryAfter == "" || !strings.Contains(got.Message, "max_memory_mb") {
		t.Fatalf("request past max_memory_mb answered %d %q (Retry-After %q), want 503 with Retry-After", got.code, got.Message, got.retryAfter)
	}
	close(em.release)
	if got := <-first; got.code != http.StatusOK {
		t.Fatalf("first request answered %d %q", got.code, got.Message)
	}
	for _, n := range []int{1500 << 10, 400 << 10} {
		if got := r.post(t, sized(n), nil); got.code != http.StatusOK {
			t.Errorf("%d KB alone answered %d %q, want 200", n>>10, got.code, got.Message)
		}
	}
}

// Memory is held for the bytes that arrive, not for the Content-Length a
// client announces: clients that announce large bodies and send nothing
// do not keep others out of max_memory_mb.
func TestContentLengthHoldsNoMemory(t *testing.T) {
	c := *httpsrc.DefaultConfig()
	c.MaxMemoryMB, c.MaxBodyMB, c.MinBodyRateKB = 1, 2, 0
	r := startRig(t, c)
	for range 4 {
		s := dialSlow(t, r.addr)
		s.write(t, bodyHead(2<<20-1)) // announces 2 MB
		s.expectContinue(t)           // the server reads its body
		s.drip(strings.Repeat(" ", dripBytes), dripEvery)
	}
	body := append(lines(deliverytest.Records(1, "liars")...), bytes.Repeat([]byte(" "), 400<<10)...)
	if got := r.post(t, body, nil); got.code != http.StatusOK {
		t.Fatalf("answered %d %q while 4 clients announce 2 MB and drip, want 200", got.code, got.Message)
	}
}
