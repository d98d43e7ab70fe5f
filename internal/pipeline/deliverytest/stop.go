package deliverytest

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/deadletter"
	"github.com/defender-intake/defender-intake/internal/metrics"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/sink"
	filesink "github.com/defender-intake/defender-intake/internal/sink/file"
)

// stopCase is one situation in which a source is stopped gracefully.
type stopCase struct {
	name string
	// sinks is how many sinks the pipeline writes to: the one under test,
	// plus a file sink for the second.
	sinks int
	// blocked stops the source while it waits for the pipeline
	// (backpressure: every worker held by a sink and the queue full);
	// otherwise it is stopped idle, once everything was delivered.
	blocked bool
}

var stopCases = []stopCase{
	{name: "Blocked/OneSink", sinks: 1, blocked: true},
	{name: "Blocked/TwoSinks", sinks: 2, blocked: true},
	{name: "Idle/OneSink", sinks: 1},
	{name: "Idle/TwoSinks", sinks: 2},
}

// gracefulStop checks that a graceful stop records exactly what was
// delivered: after the stop and a restart, every record is at every sink
// exactly once (0 lost, 0 re-sent), and the source's durable position
// covers all of them.
func gracefulStop(t *testing.T, src SourceHarness, snk SinkHarness) {
	for _, tc := range stopCases {
		t.Run(tc.name, func(t *testing.T) { gracefulStopCase(t, src, snk, tc) })
	}
}

func gracefulStopCase(t *testing.T, src SourceHarness, snk SinkHarness, tc stopCase) {
	dir := t.TempDir()
	readers := []func() [][]byte{func() [][]byte { return snk.Read(t, dir) }}
	second := filepath.Join(dir, "out2", "events.ndjson")
	if tc.sinks > 1 {
		readers = append(readers, func() [][]byte { return ReadNDJSON(t, second) })
	}
	openSinks := func() []sink.Sink {
		sinks := []sink.Sink{snk.Open(t, dir)}
		if tc.sinks > 1 {
			s, err := filesink.Open("out2", filesink.Config{Path: second})
			if err != nil {
				t.Fatal(err)
			}
			sinks = append(sinks, s)
		}
		return sinks
	}
	want := IDs(src.Records, "s")
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		src.Produce(t, dir, Records(src.Records, "s"))
	}()

	// First run: stopped mid-stream with the source blocked, or idle.
	sinks := openSinks()
	held := &valve{Sink: sinks[0], holdAfter: -1}
	if tc.blocked {
		held.holdAfter = src.Records / 10
	}
	sinks[0] = held
	run := startPipeline(t, src, dir, sinks)
	if tc.blocked {
		// The first sink takes a tenth of the records, then holds every
		// write: the workers wait in it and the queue fills, so the
		// source is blocked in Emit when the stop comes.
		full := Workers + QueueBatches
		if src.MaxBatchesInFlight > 0 {
			full = min(full, src.MaxBatchesInFlight)
		}
		run.waitFor(t, "the pipeline to fill up behind the held sink", func() bool {
			return held.waiting() > 0 && metricSum(t, run.m, "defender_intake_batches_in_flight") >= float64(full)
		})
	} else {
		run.waitFor(t, "every record at every sink", func() bool { return allThere(readers, want) })
	}
	run.cancel()
	held.release() // in-flight deliveries finish during the stop
	run.wait(t)
	before := len(Count(readers[0]()))
	t.Logf("stopped with %d of %d records at the first sink; the source's position says %d", before, len(want), src.Delivered(t, dir))

	// Second run: everything not delivered before the stop, and nothing
	// that was. (A pushing producer, like an HTTP client, may still be
	// retrying what the stop refused.)
	run = startPipeline(t, src, dir, openSinks())
	run.waitFor(t, "every record at every sink after the restart", func() bool { return allThere(readers, want) })
	<-produced
	run.cancel()
	run.wait(t)
	for i, read := range readers {
		missing, ex, dups := Check(Count(read()), want)
		if missing > 0 {
			t.Errorf("sink %d: %d of %d records lost across a graceful stop (e.g. %s)", i+1, missing, len(want), ex)
		}
		if dups > 0 {
			t.Errorf("sink %d: %d records delivered again after a graceful stop and restart: the stop did not record exactly what was delivered", i+1, dups)
		}
	}
	if n := src.Delivered(t, dir); n != len(want) {
		t.Errorf("after the last graceful stop the source's position covers %d records, want %d", n, len(want))
	}
}

func allThere(readers []func() [][]byte, want []string) bool {
	for _, read := range readers {
		if missing, _, _ := Check(Count(read()), want); missing > 0 {
			return false
		}
	}
	return true
}

// pipelineRun is one in-process run of a source through a pipeline.
type pipelineRun struct {
	m      *metrics.Metrics
	cancel context.CancelFunc
	done   chan error
}

func startPipeline(t *testing.T, src SourceHarness, dir string, sinks []sink.Sink) *pipelineRun {
	t.Helper()
	m := metrics.New()
	log := slog.New(slog.DiscardHandler)
	dl, err := deadletter.OpenFile(filepath.Join(dir, "dead-letter.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	source := src.Open(t, dir, Env{Metrics: m, Logger: log})
	p := pipeline.New(pipeline.Options{
		Sinks: sinks, DeadLetter: dl, Metrics: m, Logger: log,
		Workers: Workers, QueueBatches: QueueBatches, RetryInitial: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond,
		DrainTimeout: 60 * time.Second,
	})
	ctx, cancel := context.WithCancel(context.Background())
	r := &pipelineRun{m: m, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- p.Run(ctx, []pipeline.Source{source}) }()
	t.Cleanup(cancel)
	return r
}

// waitFor polls cond until it holds; the pipeline ending first, or a
// minute passing, fails the test.
func (r *pipelineRun) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("the pipeline ended (%v) before %s", err, what)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}

// wait waits for Run to return after cancel; it must return nil.
func (r *pipelineRun) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("pipeline: %v", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("the pipeline did not stop within 90s of the stop")
	}
}

// valve passes writes to a sink until holdAfter documents went through
// (never when negative), then makes every write wait until release.
type valve struct {
	sink.Sink
	holdAfter int

	mu      sync.Mutex
	passed  int
	blocked int
	opened  chan struct{}
}

func (v *valve) Write(ctx context.Context, docs []sink.Doc) error {
	v.mu.Lock()
	if v.opened == nil {
		v.opened = make(chan struct{})
	}
	hold := v.holdAfter >= 0 && v.passed >= v.holdAfter
	opened := v.opened
	if hold {
		v.blocked++
	}
	v.mu.Unlock()
	if hold {
		select {
		case <-opened:
		case <-ctx.Done():
		}
		v.mu.Lock()
		v.blocked--
		v.mu.Unlock()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	err := v.Sink.Write(ctx, docs)
	v.mu.Lock()
	v.passed += len(docs) - len(sink.FailedIndices(err, len(docs)))
	v.mu.Unlock()
	return err
}

// waiting is how many writes are held.
func (v *valve) waiting() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.blocked
}

// release lets held writes, and all later ones, through.
func (v *valve) release() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.holdAfter = -1
	if v.opened == nil {
		v.opened = make(chan struct{})
	}
	select {
	case <-v.opened:
	default:
		close(v.opened)
	}
}
