package http_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
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

// The bodies of all the requests in progress hold at most max_memory_mb:
// while a slow client holds most of it, a request that does not fit is
// answered 503 with Retry-After at once, and served once the memory is
// free. A request alone gets the memory its own limits allow, even past
// max_memory_mb.
func TestMemoryBudget(t *testing.T) {
	c := *httpsrc.DefaultConfig()
	c.MaxMemoryMB, c.MaxBodyMB, c.MinBodyRateKB = 1, 2, 0
	r := startRig(t, c)
	big := append(lines(deliverytest.Records(1, "alone")...), bytes.Repeat([]byte(" "), 1500<<10)...)
	if got := r.post(t, big, nil); got.code != http.StatusOK || count(got.Taken) != 1 {
		t.Fatalf("a 1.5 MB request alone answered %d %q, want 200 (alone, it gets its memory)", got.code, got.Message)
	}

	s := dialSlow(t, r.addr)
	s.write(t, bodyHead(800<<10))
	s.expectContinue(t) // its memory is held from here on
	s.drip(strings.Repeat(" ", dripBytes), dripEvery)
	body := append(lines(deliverytest.Records(1, "budget")...), bytes.Repeat([]byte(" "), 400<<10)...)
	got := r.post(t, body, nil)
	if got.code != http.StatusServiceUnavailable || got.retryAfter == "" || !strings.Contains(got.Message, "max_memory_mb") {
		t.Fatalf("request past max_memory_mb answered %d %q (Retry-After %q), want 503 with Retry-After", got.code, got.Message, got.retryAfter)
	}
	if err := s.writeErr.Load(); err != nil {
		t.Fatalf("the slow client stopped sending (%v): the test proves nothing", err)
	}
	s.close()
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if got = r.post(t, body, nil); got.code == http.StatusOK {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("still answered %d %q once the slow client left", got.code, got.Message)
		}
	}
	if n := len(r.docs(t)); n != 2 {
		t.Errorf("%d documents delivered, want 2", n)
	}
}
