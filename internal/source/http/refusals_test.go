package http_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/metrics"
	"github.com/defender-intake/defender-intake/internal/source"
	httpsrc "github.com/defender-intake/defender-intake/internal/source/http"
)

// logLines collects the messages of the log records at or above Warn.
type logLines struct {
	mu   sync.Mutex
	msgs []string
	text []string
}

func (l *logLines) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelWarn }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	r.Attrs(func(a slog.Attr) bool { b.WriteString(a.String() + " "); return true })
	l.mu.Lock()
	l.msgs, l.text = append(l.msgs, r.Message), append(l.text, b.String())
	l.mu.Unlock()
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }

// Requests turned away at the door (wrong token, wrong method, too
// large, unknown coding, too many in progress) are counted per code in
// defender_intake_http_refusals_total, and logged in one line, not one
// per request: a client retrying in a loop must not flood the log.
func TestRefusalsCountedAndLogged(t *testing.T) {
	c := *httpsrc.DefaultConfig()
	c.Listen, c.Token, c.MaxBodyMB = freeAddr(t), config.NewSecret(token), 1
	m := metrics.New()
	logs := &logLines{}
	s := httpsrc.New("in", c, source.Env{Logger: slog.New(logs), Metrics: m})
	em := &heldEmitter{release: make(chan struct{})}
	close(em.release)
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
	send := func(method, path, auth, encoding string, body []byte) int {
		req, _ := http.NewRequest(method, "http://"+s.Addr()+path, bytes.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if encoding != "" {
			req.Header.Set("Content-Encoding", encoding)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		n                            int
		method, path, auth, encoding string
		body                         []byte
		code                         int
	}{
		{n: 50, method: "POST", auth: "Bearer nope", body: []byte("{}"), code: http.StatusUnauthorized},
		{n: 20, method: "GET", auth: "Bearer " + token, code: http.StatusMethodNotAllowed},
		{n: 10, method: "POST", auth: "Bearer " + token, body: make([]byte, 2<<20), code: http.StatusRequestEntityTooLarge},
		{n: 5, method: "POST", auth: "Bearer " + token, encoding: "br", body: []byte("{}"), code: http.StatusUnsupportedMediaType},
		{n: 4, method: "POST", path: "/ingest/", auth: "Bearer " + token, body: []byte(`{"a":1}`), code: http.StatusNotFound},
		{n: 3, method: "POST", auth: "Bearer " + token, body: []byte(`{"a":1}`), code: http.StatusOK},
	}
	for _, tc := range tests {
		for range tc.n {
			if tc.path == "" {
				tc.path = "/ingest"
			}
			if got := send(tc.method, tc.path, tc.auth, tc.encoding, tc.body); got != tc.code {
				t.Fatalf("%s %q answered %d, want %d", tc.method, tc.auth, got, tc.code)
			}
		}
	}
	for _, tc := range tests {
		want := float64(tc.n)
		if tc.code == http.StatusOK {
			want = 0
		}
		if got := testutil.ToFloat64(m.HTTPRefusals.WithLabelValues("in", itoa(tc.code))); got != want {
			t.Errorf("refusals{code=%d} = %v, want %v", tc.code, got, want)
		}
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if len(logs.msgs) != 1 || logs.msgs[0] != "http requests refused" {
		t.Fatalf("log lines %q, want one \"http requests refused\" for 89 refusals within a minute", logs.msgs)
	}
	if !strings.Contains(logs.text[0], "last_code=401") || !strings.Contains(logs.text[0], "last_remote=127.0.0.1:") {
		t.Errorf("log line %q does not say what was refused to whom", logs.text[0])
	}
}
