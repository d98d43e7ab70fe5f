package sekoia

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

// A wrong intake key or URL holds the records, it does not dead-letter
// them (a 401 used to dead-letter every record, one by one).
func TestTargetOutage(t *testing.T) {
	forwardtest.TargetOutage(t, func(t *testing.T) forwardtest.Outage {
		in := &intake{t: t}
		dl := filepath.Join(t.TempDir(), "dl.ndjson")
		return forwardtest.Outage{
			Target:     in,
			DeadLetter: dl,
			Open: func(url string) sink.Sink {
				return open(t, url, func(c *Config) { c.DeadLetter = dl })
			},
			Delivered: func() []string {
				recs, _, bad := in.accepted()
				if len(bad) > 0 {
					t.Fatalf("format problems: %v", bad)
				}
				hosts := make([]string, len(recs))
				for i, r := range recs {
					hosts[i] = hostOf(t, r)
				}
				return hosts
			},
		}
	})
}

// The records of one Write that the intake refuses for good are
// dead-lettered together, with one log line (count and first reason),
// not one line per record.
func TestDeadLettersPerBatch(t *testing.T) {
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(prev)
	refused := map[string]bool{"b-3": true, "b-17": true, "b-28": true}
	in := &intake{t: t, fail: func(_ int, w http.ResponseWriter, _ *http.Request, jsons []string) bool {
		for _, j := range jsons {
			if refused[hostOf(t, j)] {
				http.Error(w, `{"message":"invalid event"}`, http.StatusBadRequest)
				return true
			}
		}
		return false
	}}
	srv := httptest.NewServer(in)
	defer srv.Close()
	s := open(t, srv.URL, func(c *Config) { c.MaxBatchRecords = 10 })
	if err := s.Write(context.Background(), forwardtest.Docs(30, "b")); err != nil {
		t.Fatal(err)
	}
	if dl := forwardtest.DeadLetters(t, s.cfg.DeadLetter); len(dl) != 3 {
		t.Fatalf("%d dead letters, want 3", len(dl))
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Contains(l, "dead-lettered") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "count=3") || !strings.Contains(lines[0], "invalid event") {
		t.Errorf("dead-letter log lines %q, want one with count=3 and the reason", lines)
	}
}
