package forward

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/besteffort"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{"-1", 0},
		{"junk", 0},
		{"100000", maxRetryAfter},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	}
	for _, tc := range cases {
		if got := RetryAfter(tc.in, now); got != tc.want {
			t.Errorf("RetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestPermanent(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{&StatusError{Code: 400}, true},
		{&StatusError{Code: 413}, true},
		{&StatusError{Code: 422}, true},
		{&StatusError{Code: 409}, true},
		// Refusals of the request as a whole: the documents are not at fault.
		{&StatusError{Code: 401}, false},
		{&StatusError{Code: 403}, false},
		{&StatusError{Code: 404}, false},
		{&StatusError{Code: 407}, false},
		{&StatusError{Code: 405}, false},
		{&StatusError{Code: 410}, false},
		{&StatusError{Code: 415}, false},
		{&StatusError{Code: 302}, false},
		{&StatusError{Code: 408}, false},
		{&StatusError{Code: 429}, false},
		{&StatusError{Code: 500}, false},
		{&StatusError{Code: 503}, false},
		{fmt.Errorf("wrapped: %w", &StatusError{Code: 400}), true},
		{errors.New("connection refused"), false},
	}
	for _, tc := range cases {
		if got := Permanent(tc.err); got != tc.want {
			t.Errorf("Permanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestRetrierAttempts(t *testing.T) {
	cases := []struct {
		name      string
		codes     []int // answers in order; the last repeats
		attempts  int
		wantCalls int32
		wantErr   bool
	}{
		{"ok at once", []int{200}, 3, 1, false},
		{"503 then ok", []int{503, 200}, 3, 2, false},
		{"always 500", []int{500}, 3, 3, true},
		{"400 not retried", []int{400}, 3, 1, true},
		// The pipeline's capped backoff paces the retries of a refusal.
		{"401 handed back at once", []int{401}, 3, 1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(calls.Add(1)) - 1
				w.WriteHeader(tc.codes[min(n, len(tc.codes)-1)])
			}))
			defer srv.Close()
			r := Retrier{MaxAttempts: tc.attempts, Initial: time.Millisecond}
			_, err := r.Do(context.Background(), srv.Client(), func(ctx context.Context) (*http.Request, error) {
				return http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, nil)
			})
			if (err != nil) != tc.wantErr || calls.Load() != tc.wantCalls {
				t.Errorf("err %v after %d calls, want error %v after %d", err, calls.Load(), tc.wantErr, tc.wantCalls)
			}
		})
	}
}

func TestNarrow(t *testing.T) {
	cases := []struct {
		name       string
		n          int
		bad        map[int]bool
		wantReject []int
		wantSends  int
	}{
		{"none bad", 8, nil, nil, 1},
		{"one bad of 8", 8, map[int]bool{5: true}, []int{5}, 7},
		{"two bad of 4", 4, map[int]bool{0: true, 3: true}, []int{0, 3}, 7},
		{"single bad", 1, map[int]bool{0: true}, []int{0}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idx := make([]int, tc.n)
			for i := range idx {
				idx[i] = i
			}
			sends := 0
			var rejected []int
			err := Narrow(idx, func(idx []int) error {
				sends++
				for _, i := range idx {
					if tc.bad[i] {
						return &StatusError{Code: 400}
					}
				}
				return nil
			}, func(i int, err error) error {
				rejected = append(rejected, i)
				return nil
			})
			if err != nil || fmt.Sprint(rejected) != fmt.Sprint(tc.wantReject) || sends != tc.wantSends {
				t.Errorf("err %v, rejected %v in %d sends; want %v in %d", err, rejected, sends, tc.wantReject, tc.wantSends)
			}
		})
	}
}

func TestRejectsKeepRawAndOrigin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dl.ndjson")
	r, err := OpenRejects("s1", path)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		doc     string
		wantRaw string
		wantSrc string
		wantOff int64
	}{
		{`{"message":"{\"a\":1}","defender_intake":{"origin":{"source":"hub","partition":"2","offset":42}}}`, `{"a":1}`, "hub", 42},
		{`{"host":{"name":"x"}}`, `{"host":{"name":"x"}}`, "", -1},
		{`not json`, `not json`, "", -1},
	}
	for _, tc := range cases {
		e := r.Entry([]byte(tc.doc), "why")
		if string(e.Raw) != tc.wantRaw || e.Source != tc.wantSrc || e.Offset != tc.wantOff || e.Stage != "sink" || e.Reason != "sink s1: why" {
			t.Errorf("Entry(%s) = %+v", tc.doc, e)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

type nopSink struct{}

func (nopSink) Name() string                            { return "nop" }
func (nopSink) Write(context.Context, []sink.Doc) error { return nil }
func (nopSink) Close() error                            { return nil }

func TestWrapBestEffort(t *testing.T) {
	d := DefaultDelivery()
	if s, _ := d.Wrap(nopSink{}); s != (nopSink{}) {
		t.Errorf("not best effort: wrapped anyway (%T)", s)
	}
	d.BestEffort = true
	d.Buffer.Dir = t.TempDir()
	s, err := d.Wrap(nopSink{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*besteffort.Sink); !ok {
		t.Errorf("best_effort: got %T, want the best-effort wrapper", s)
	}
}

// A failed request's error names the method and endpoint, without the
// URL's query (a ClickHouse statement, a kilobyte once encoded) or its
// password.
func TestSendErrorNamesEndpoint(t *testing.T) {
	client, err := NewHTTPClient(TLS{}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Retrier{MaxAttempts: 1}.Do(context.Background(), client, func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodPost, "http://user:pw-9f2@127.0.0.1:1/path?query=CREATE+TABLE+x", nil)
	})
	msg := fmt.Sprint(err)
	if !strings.Contains(msg, "POST http://user:xxxxx@127.0.0.1:1/path") || strings.Contains(msg, "CREATE") || strings.Contains(msg, "pw-9f2") {
		t.Errorf("error %q: want the method and endpoint, no query or password", msg)
	}
}

// A sink that takes the status as the acknowledgement (StatusOnly) reads
// little of a huge 200 body, as of a refusal's: a hostile target cannot
// make every request hold 64 MiB.
func TestStatusOnlyReadsLittle(t *testing.T) {
	var written atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		for i := 0; i < 2048; i++ { // 128 MiB, unless the client stops reading
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	client, err := NewHTTPClient(TLS{}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	body, err := Retrier{MaxAttempts: 1, StatusOnly: true}.Do(context.Background(), client, func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.CloseClientConnections()
	srv.Close() // waits for the handler
	if len(body) > 64<<10 {
		t.Errorf("%d bytes of the body kept", len(body))
	}
	if w := written.Load(); w >= 32<<20 {
		t.Errorf("the target could send %d MiB into one request, want a few MiB at most (socket buffers)", w>>20)
	}
}
