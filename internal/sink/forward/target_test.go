package forward

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/defender-intake/defender-intake/internal/deadletter"
	"github.com/defender-intake/defender-intake/internal/sink"
)

// A refusal of the request as a whole is an outage of the target, not a
// fault of the documents: it matches sink.ErrTargetUnavailable and is
// not Permanent (nothing is dead-lettered for it).
func TestRefusesRequest(t *testing.T) {
	cases := []struct {
		err     error
		refuses bool
	}{
		{&StatusError{Code: 401}, true},
		{&StatusError{Code: 403}, true},
		{&StatusError{Code: 404}, true},
		{&StatusError{Code: 407}, true},
		// The method, URL, headers or protocol are wrong, not the documents.
		{&StatusError{Code: 405}, true},
		{&StatusError{Code: 410}, true},
		{&StatusError{Code: 415}, true},
		{&StatusError{Code: 421}, true},
		{&StatusError{Code: 426}, true},
		// Redirects are not followed: the URL is wrong.
		{&StatusError{Code: 301}, true},
		{&StatusError{Code: 302}, true},
		{&StatusError{Code: 307}, true},
		{&StatusError{Code: 308}, true},
		{&StatusError{Code: 409}, false},
		{&StatusError{Code: 422}, false},
		{fmt.Errorf("wrapped: %w", &StatusError{Code: 401}), true},
		{&sink.PartialError{Failed: []int{0}, Err: &StatusError{Code: 403}}, true},
		{&StatusError{Code: 400}, false},
		{&StatusError{Code: 413}, false},
		{&StatusError{Code: 429}, false},
		{&StatusError{Code: 503}, false},
		{errors.New("connection refused"), false},
	}
	for _, tc := range cases {
		if got := RefusesRequest(tc.err); got != tc.refuses {
			t.Errorf("RefusesRequest(%v) = %v, want %v", tc.err, got, tc.refuses)
		}
		if got := errors.Is(tc.err, sink.ErrTargetUnavailable); got != tc.refuses {
			t.Errorf("errors.Is(%v, ErrTargetUnavailable) = %v, want %v", tc.err, got, tc.refuses)
		}
		if tc.refuses && Permanent(tc.err) {
			t.Errorf("Permanent(%v): a refusal of the request would dead-letter its documents", tc.err)
		}
	}
}

// logLines counts the lines of level in a text log.
func logLines(logs *bytes.Buffer, level string) []string {
	var out []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "level="+level) {
			out = append(out, l)
		}
	}
	return out
}

// An outage logs one ERROR line a minute at most, whatever the number of
// refusals, each line with the count of those not logged; the end of a
// logged outage is logged once. The gauge and Unavailable follow it.
func TestTargetLogRateLimit(t *testing.T) {
	var logs bytes.Buffer
	tg := NewTarget("rate-limited", slog.New(slog.NewTextHandler(&logs, nil)))
	defer tg.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tg.SetClock(func() time.Time { return now })
	gauge := func() float64 { return testutil.ToFloat64(targetUnavailable.WithLabelValues("rate-limited")) }

	refusal := &StatusError{Code: 401, Body: "bad key"}
	// 300 refusals, one a second: 5 minutes, so 5 lines (at 0s, 60s, ...).
	for i := 0; i < 300; i++ {
		tg.Observe(refusal)
		now = now.Add(time.Second)
	}
	errs := logLines(&logs, "ERROR")
	if len(errs) != 5 {
		t.Fatalf("%d ERROR lines for 300 refusals over 5 minutes, want 5:\n%s", len(errs), logs.String())
	}
	if !strings.Contains(errs[0], "not_logged=0") || !strings.Contains(errs[1], "not_logged=59") || !strings.Contains(errs[1], "status=401") {
		t.Errorf("ERROR lines do not count what they did not log:\n%s\n%s", errs[0], errs[1])
	}
	if g := gauge(); g != 1 {
		t.Errorf("gauge %v during the outage, want 1", g)
	}
	if err := tg.Unavailable(); !errors.Is(err, sink.ErrTargetUnavailable) || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("Unavailable() = %v during the outage", err)
	}
	// Other failures neither end nor log the outage.
	tg.Observe(&StatusError{Code: 503})
	tg.Observe(errors.New("connection reset"))
	if tg.Unavailable() == nil {
		t.Error("a 503 ended the outage")
	}

	tg.Observe(nil)
	if g := gauge(); g != 0 || tg.Unavailable() != nil {
		t.Errorf("after a success: gauge %v, Unavailable %v", g, tg.Unavailable())
	}
	if warns := logLines(&logs, "WARN"); len(warns) != 1 || !strings.Contains(warns[0], "refusals=300") {
		t.Errorf("end of the outage logged as %q, want one line with refusals=300", warns)
	}
	// A target that flaps (down, up, down...) 50 times within a minute
	// logs one outage and its end.
	errsBefore, warnsBefore := len(logLines(&logs, "ERROR")), len(logLines(&logs, "WARN"))
	for i := 0; i < 50; i++ {
		tg.Observe(refusal)
		tg.Observe(nil)
		now = now.Add(time.Second)
	}
	if e, w := len(logLines(&logs, "ERROR"))-errsBefore, len(logLines(&logs, "WARN"))-warnsBefore; e != 1 || w != 1 {
		t.Errorf("a target flapping 50 times in 50s logged %d ERROR and %d end lines, want 1 and 1", e, w)
	}
	// A 400 on a record means the request itself got through.
	tg.Observe(refusal)
	tg.Observe(&StatusError{Code: 400})
	if tg.Unavailable() != nil {
		t.Error("a 400 (the target read the records) did not end the outage")
	}
}

// countingWriter is a dead-letter writer that counts its writes (each is
// one fsync for a file).
type countingWriter struct {
	writes  int
	entries []deadletter.Entry
	fail    error
}

func (c *countingWriter) Write(_ context.Context, e []deadletter.Entry) error {
	c.writes++
	if c.fail != nil {
		return c.fail
	}
	c.entries = append(c.entries, e...)
	return nil
}
func (c *countingWriter) Close() error { return nil }

// The documents of one Write refused for good are dead-lettered in one
// write with one log line (count and first reason), not one per document.
func TestSettleOneWritePerBatch(t *testing.T) {
	docs := make([]sink.Doc, 40)
	for i := range docs {
		docs[i] = sink.Doc{JSON: fmt.Appendf(nil, `{"message":"rec-%d"}`, i)}
	}
	bad := func(i int) bool { return i%7 == 3 } // 3, 10, 17, 24, 31, 38
	cases := []struct {
		name       string
		failAt     int // the request that fails for now (-1: none)
		dlFail     error
		wantFailed []int
		wantDead   int // default 6
	}{
		{name: "all settled", failAt: -1},
		// Requests 0-8 narrow the first chunk down to 3; 9-12 the second
		// down to 10; request 13 (document 11 alone) fails for now, and
		// the rest of the chunk is narrowed down to 17. Send gives back
		// 10-39: 10 and 17, dead-lettered, are not retried.
		{name: "a chunk fails while narrowed", failAt: 13, wantDead: 3, wantFailed: slices.DeleteFunc(seq(11, 40), func(i int) bool { return i == 17 })},
		{name: "the dead-letter file fails", failAt: -1, dlFail: errors.New("disk full"), wantFailed: []int{3, 10, 17, 24, 31, 38}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			w := &countingWriter{fail: tc.dlFail}
			r := &Rejects{sink: "s", path: "dl.ndjson", w: w, now: time.Now, log: slog.New(slog.NewTextHandler(&logs, nil))}
			var refused Refused
			requests := 0
			items := make([][]byte, len(docs))
			for i := range items {
				items[i] = docs[i].JSON
			}
			err := Chunks{MaxItems: 10, MaxBytes: 1 << 20}.Send(items, func(idx []int) error {
				requests++
				if requests-1 == tc.failAt {
					return errors.New("connection reset")
				}
				for _, i := range idx {
					if bad(i) {
						return &StatusError{Code: 400, Body: fmt.Sprintf("bad record %d", i)}
					}
				}
				return nil
			}, refused.Add)
			err = r.Settle(context.Background(), docs, &refused, err)
			if got := fmt.Sprint(sink.FailedIndices(err, len(docs))); got != fmt.Sprint(tc.wantFailed) && !(got == "[]" && tc.wantFailed == nil) {
				t.Errorf("failed %s, want %v (err %v)", got, tc.wantFailed, err)
			}
			if w.writes != 1 {
				t.Errorf("%d dead-letter writes for one Write, want 1", w.writes)
			}
			if tc.dlFail != nil {
				return
			}
			wantDead := cmp.Or(tc.wantDead, 6)
			if len(w.entries) != wantDead {
				t.Errorf("%d dead letters, want %d", len(w.entries), wantDead)
			}
			lines := logLines(&logs, "WARN")
			if len(lines) != 1 || !strings.Contains(lines[0], fmt.Sprintf("count=%d", wantDead)) || !strings.Contains(lines[0], "bad record 3") {
				t.Errorf("log lines %q, want one with the count and the first reason", lines)
			}
			if refused.Len() != 0 {
				t.Error("Settle left the refused documents for the next Write")
			}
		})
	}
}

// seq returns from, from+1, ..., to-1.
func seq(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}
