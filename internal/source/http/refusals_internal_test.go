package http

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/metrics"
)

type recordedLog struct{ lines []string }

func (l *recordedLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *recordedLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	r.Attrs(func(a slog.Attr) bool { b.WriteString(a.String() + " "); return true })
	l.lines = append(l.lines, b.String())
	return nil
}
func (l *recordedLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *recordedLog) WithGroup(string) slog.Handler      { return l }

// The first refusal is logged at once; the next line comes once a minute
// has passed, with the counts per code of everything refused since.
func TestRefusalLogOncePerMinute(t *testing.T) {
	log := &recordedLog{}
	r := newRefusals(metrics.New().HTTPRefusals, "in", slog.New(log))
	now := time.Unix(1_000_000, 0)
	r.now = func() time.Time { return now }
	r.add(503, "busy", "a")
	for i := 0; i < 100; i++ {
		now = now.Add(500 * time.Millisecond) // 50 s in all
		r.add(408+i%2*95, "slow or busy", "b")
	}
	if len(log.lines) != 1 {
		t.Fatalf("%d lines within the first minute, want 1: %q", len(log.lines), log.lines)
	}
	now = now.Add(10 * time.Second)
	r.add(401, "token", "c")
	if len(log.lines) != 2 {
		t.Fatalf("%d lines after a minute, want 2", len(log.lines))
	}
	if want := "refused=101 by_code=401: 1, 408: 50, 503: 50 "; !strings.HasPrefix(log.lines[1], want) {
		t.Errorf("second line %q, want it to start %q", log.lines[1], want)
	}
}
