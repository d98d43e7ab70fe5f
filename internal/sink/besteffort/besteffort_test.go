package besteffort

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/defender-intake/defender-intake/internal/sink"
)

// target is the sink behind the wrapper: it stores documents, and while
// down refuses all of them (or, when flaky, every other one).
type target struct {
	name  string
	down  atomic.Bool
	flaky atomic.Bool
	mu    sync.Mutex
	got   map[string]int
	calls int
}

func newTarget(name string) *target { return &target{name: name, got: map[string]int{}} }

func (t *target) Name() string { return t.name }
func (t *target) Close() error { return nil }
func (t *target) Write(_ context.Context, docs []sink.Doc) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls++
	if t.down.Load() {
		return errors.New("connection refused")
	}
	var failed []int
	for i, d := range docs {
		if t.flaky.Load() && i%2 == 1 {
			failed = append(failed, i)
			continue
		}
		t.got[string(d.JSON)]++
	}
	if len(failed) > 0 {
		return &sink.PartialError{Failed: failed, Err: errors.New("some refused")}
	}
	return nil
}

func (t *target) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.got)
}

func docs(n, from int) []sink.Doc {
	out := make([]sink.Doc, n)
	for i := range out {
		out[i] = sink.Doc{JSON: fmt.Appendf(nil, `{"host":{"name":"h-%06d"},"pad":"%0100d"}`, from+i, 0), Dataset: "device_process_events", Timestamp: time.Unix(1700000000, 0)}
	}
	return out
}

func open(t *testing.T, inner sink.Sink, edit func(*Config)) *Sink {
	t.Helper()
	c := DefaultConfig()
	c.Dir = t.TempDir()
	c.RetryMax = 20 * time.Millisecond
	if edit != nil {
		edit(&c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(inner, c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestTargetDownThenUp(t *testing.T) {
	cases := []struct {
		name  string
		flaky bool
	}{{"down", false}, {"partial failures", true}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTarget("be-" + tc.name)
			tg.down.Store(true)
			tg.flaky.Store(tc.flaky)
			s := open(t, tg, nil)
			for b := 0; b < 50; b++ {
				// Acknowledged at once even though the target is down.
				if err := s.Write(context.Background(), docs(100, b*100)); err != nil {
					t.Fatal(err)
				}
			}
			if n := tg.count(); n != 0 {
				t.Fatalf("%d delivered while down", n)
			}
			if q := testutil.ToFloat64(queuedBytes.WithLabelValues(tg.name)); q <= 0 {
				t.Errorf("queued bytes gauge %v while down", q)
			}
			tg.down.Store(false)
			waitFor(t, "the target to flake less", func() bool { tg.mu.Lock(); defer tg.mu.Unlock(); return tg.calls > 3 })
			tg.flaky.Store(false)
			waitFor(t, "all 5000 documents", func() bool { return tg.count() == 5000 })
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if d := testutil.ToFloat64(droppedDocs.WithLabelValues(tg.name)); d != 0 {
				t.Errorf("%v dropped", d)
			}
			if q := testutil.ToFloat64(queuedBytes.WithLabelValues(tg.name)); q != 0 {
				t.Errorf("%v bytes still queued after delivery", q)
			}
		})
	}
}

func TestQueueFullDropsAreCounted(t *testing.T) {
	tg := newTarget("be-full")
	tg.down.Store(true)
	s := open(t, tg, func(c *Config) { c.MaxMB = 1; c.CloseTimeout = 0 })
	const total = 20000 // about 3 MB of documents for a 1 MB queue
	for b := 0; b < total/100; b++ {
		if err := s.Write(context.Background(), docs(100, b*100)); err != nil {
			t.Fatal(err)
		}
	}
	dropped := testutil.ToFloat64(droppedDocs.WithLabelValues(tg.name))
	queued := testutil.ToFloat64(queuedBytes.WithLabelValues(tg.name))
	if dropped == 0 || queued > 1<<20 {
		t.Fatalf("dropped %v, queued %v bytes: the 1 MB bound did not hold", dropped, queued)
	}
	tg.down.Store(false)
	waitFor(t, "the queue to drain", func() bool { return tg.count()+int(dropped) == total })
	s.Close()
	t.Logf("%v of %d dropped with a 1 MB queue", dropped, total)
}

// What was queued when the process stopped is delivered after a restart.
func TestQueueSurvivesRestart(t *testing.T) {
	tg := newTarget("be-restart")
	tg.down.Store(true)
	dir := t.TempDir()
	s := open(t, tg, func(c *Config) { c.Dir = dir; c.CloseTimeout = 0 })
	if err := s.Write(context.Background(), docs(300, 0)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	tg.down.Store(false)
	s = open(t, tg, func(c *Config) { c.Dir = dir })
	waitFor(t, "the queue left by the previous run", func() bool { return tg.count() == 300 })
	s.Close()
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"defaults", func(*Config) {}, true},
		{"zero size", func(c *Config) { c.MaxMB = 0 }, false},
		{"zero batch", func(c *Config) { c.BatchDocs = 0 }, false},
		{"zero retry", func(c *Config) { c.RetryMax = 0 }, false},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		tc.edit(&c)
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v", tc.name, err)
		}
	}
}
