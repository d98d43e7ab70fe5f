package deliverytest

import (
	"context"
	"errors"
	"hash/crc32"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/deadletter"
	"github.com/defender-intake/defender-intake/internal/metrics"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/sink"
	filesink "github.com/defender-intake/defender-intake/internal/sink/file"
)

// SourceHarness describes a source under test.
type SourceHarness struct {
	// Entry returns the source's config entry (type and keys) for a test
	// whose files live in dir; nil for a source that can only run
	// in-process (the Event Hub's AMQP side): the tests that run the
	// binary are skipped.
	Entry func(t *testing.T, dir string) map[string]any
	// Produce adds records to the source's input. The suite calls it
	// while the service runs (and through a kill and restart), so it
	// must retry what its upstream refuses (an HTTP client does).
	Produce func(t *testing.T, dir string, records [][]byte)
	// Open builds the source in-process from the same entry.
	Open func(t *testing.T, dir string, env Env) pipeline.Source
	// Delivered returns how many records the source's durable position
	// (checkpoint, commit, answered requests) says were delivered.
	Delivered func(t *testing.T, dir string) int
	// MaxBatchMessages bounds the messages of one batch emitted by the
	// source, for the memory bound; RecordsPerMessage is how many records
	// Produce puts in one message (default 1).
	MaxBatchMessages  int
	RecordsPerMessage int
	// ExtraDuplicates is what, besides the pipeline's in-flight window,
	// may be read twice after a kill (e.g. acknowledged records whose
	// position was not yet saved: checkpoint interval × rate).
	ExtraDuplicates int
	// Records is how many records each test sends (default 20000).
	Records int
	// MaxBatchesInFlight is the most batches the source has in the
	// pipeline at once when that is fewer than the pipeline holds (an
	// HTTP client that sends one request at a time: 1); 0: no limit.
	MaxBatchesInFlight int
}

func (h SourceHarness) withDefaults() SourceHarness {
	if h.Records == 0 {
		h.Records = 20000
	}
	if h.RecordsPerMessage == 0 {
		h.RecordsPerMessage = 1
	}
	return h
}

// Env is given to SourceHarness.Open.
type Env struct {
	Metrics *metrics.Metrics
	Logger  *slog.Logger
}

// SinkHarness describes a sink under test.
type SinkHarness struct {
	// Entry returns the sink's config entry (type and keys).
	Entry func(t *testing.T, dir string) map[string]any
	// Open builds the sink in-process from the same entry.
	Open func(t *testing.T, dir string) sink.Sink
	// Read returns the documents the sink has stored so far.
	Read func(t *testing.T, dir string) [][]byte
	// ReadLagsOneWrite says Read shows a proxy of what is durable that
	// can lag one Write behind (the detection sink's alert file, written
	// after its store): after a kill, one batch more than Read showed
	// may come twice.
	ReadLagsOneWrite bool
}

// FileSourceEntry and FileSinkEntry are the peers used opposite the
// component under test.
func fileSinkEntry(dir string) map[string]any {
	return map[string]any{"name": "out", "type": "file", "path": filepath.Join(dir, "out", "events.ndjson"), "max_size_mb": 0}
}

func readFileSink(t *testing.T, dir string) [][]byte {
	return ReadNDJSON(t, filepath.Join(dir, "out", "events*.ndjson"))
}

// RunSourceSuite runs the delivery tests against a source, with the file
// sink opposite it.
func RunSourceSuite(t *testing.T, h SourceHarness) {
	sinkSide := SinkHarness{
		Entry: func(t *testing.T, dir string) map[string]any { return fileSinkEntry(dir) },
		Open: func(t *testing.T, dir string) sink.Sink {
			s, err := filesink.Open("out", filesink.Config{Path: filepath.Join(dir, "out", "events.ndjson")})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Read: readFileSink,
	}
	RunSourcesSinkSuite(t, h, sinkSide)
	t.Run("GracefulStopBinary", func(t *testing.T) {
		if h.Entry == nil {
			t.Skip("this source runs only in-process (its service cannot run here)")
		}
		gracefulStopBinary(t, h.withDefaults())
	})
}

// RunSinkSuite runs the delivery tests against a sink, fed by the file
// source.
func RunSinkSuite(t *testing.T, h SinkHarness) {
	RunSourcesSinkSuite(t, FileSource(), h)
}

// RunSourcesSinkSuite runs the suite with a given source opposite a sink.
func RunSourcesSinkSuite(t *testing.T, src SourceHarness, h SinkHarness) {
	src = src.withDefaults()
	binary := func(name string, f func(t *testing.T, src SourceHarness, h SinkHarness)) {
		t.Run(name, func(t *testing.T) {
			if src.Entry == nil || h.Entry == nil {
				t.Skip("this source or sink runs only in-process (its service cannot run here)")
			}
			f(t, src, h)
		})
	}
	binary("AtLeastOnce", atLeastOnce)
	binary("KillRestart", killRestart)
	t.Run("PartialFailure", func(t *testing.T) { partialFailure(t, src, h) })
	t.Run("GracefulStop", func(t *testing.T) { gracefulStop(t, src, h) })
}

func atLeastOnce(t *testing.T, src SourceHarness, snk SinkHarness) {
	dir := t.TempDir()
	cfg := WriteConfig(t, dir, src.Entry(t, dir), snk.Entry(t, dir))
	svc := Start(t, dir, cfg)
	want := IDs(src.Records, "a")
	src.Produce(t, dir, Records(src.Records, "a"))
	waitComplete(t, snk, dir, want, svc, 60*time.Second)
	svc.Stop(30 * time.Second)
	missing, ex, _ := Check(Count(snk.Read(t, dir)), want)
	if missing > 0 {
		t.Fatalf("%d of %d records missing after a clean run (e.g. %s)", missing, len(want), ex)
	}
	// A graceful stop records the delivered position: a restart must
	// not read anything again.
	svc = Start(t, dir, cfg)
	time.Sleep(3 * time.Second)
	svc.Stop(30 * time.Second)
	if _, _, dups := Check(Count(snk.Read(t, dir)), want); dups > 0 {
		t.Errorf("%d records delivered again after a graceful stop and restart: the position was not saved on SIGTERM", dups)
	}
}

func killRestart(t *testing.T, src SourceHarness, snk SinkHarness) {
	dir := t.TempDir()
	cfg := WriteConfig(t, dir, src.Entry(t, dir), snk.Entry(t, dir))
	want := IDs(src.Records, "k")
	svc := Start(t, dir, cfg)
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		src.Produce(t, dir, Records(src.Records, "k"))
	}()
	// Kill once some but not all records are out.
	deadline := time.Now().Add(60 * time.Second)
	var before int
	for {
		before = len(Count(snk.Read(t, dir)))
		if before >= src.Records/10 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	svc.Kill()
	if before >= len(want) {
		t.Logf("all %d records were out before the kill: the kill did not land mid-stream", before)
	}
	// What the dead process left: the records the sink holds and the
	// position the source saved. A restart reads again from that
	// position, so only records the sink holds beyond it may come twice.
	held := settledCount(t, snk, dir)
	saved := src.Delivered(t, dir)
	svc = Start(t, dir, cfg)
	<-produced
	waitComplete(t, snk, dir, want, svc, 90*time.Second)
	svc.Stop(30 * time.Second)
	missing, ex, dups := Check(Count(snk.Read(t, dir)), want)
	if missing > 0 {
		t.Fatalf("%d of %d records lost across SIGKILL and restart (e.g. %s)", missing, len(want), ex)
	}
	// The exact bound is what the sink held past the saved position at
	// the kill. How large that gap gets is a matter of timing (the
	// in-flight window plus what was acknowledged since the last save,
	// longer when fsync is slow on a busy machine), so it is reported
	// against the documented figure rather than asserted.
	exact := held - saved
	if snk.ReadLagsOneWrite {
		exact += src.MaxBatchMessages * src.RecordsPerMessage
	}
	window := (QueueBatches+Workers+1)*src.MaxBatchMessages*src.RecordsPerMessage + src.ExtraDuplicates
	t.Logf("killed after %d of %d records were out (sink held %d, source position %d); %d duplicates after restart (exact bound %d, documented typical bound %d)",
		before, len(want), held, saved, dups, exact, window)
	if dups > exact {
		t.Errorf("%d duplicates after restart, but the sink held only %d records past the saved position %d at the kill: the restart did not resume from the saved position", dups, exact, saved)
	}
	if exact > window {
		t.Logf("note: %d records were past the saved position at the kill, more than the typical %d (slow position saves on a busy machine)", exact, window)
	}
}

// settledCount returns how many distinct records the sink holds once its
// count stops changing (a stand-in may still be storing a request the
// killed process sent).
func settledCount(t *testing.T, snk SinkHarness, dir string) int {
	t.Helper()
	last, same := -1, 0
	for i := 0; i < 200 && same < 3; i++ {
		n := len(Count(snk.Read(t, dir)))
		if n == last {
			same++
		} else {
			last, same = n, 0
		}
		time.Sleep(20 * time.Millisecond)
	}
	return last
}

// waitComplete polls the sink until every id is there.
func waitComplete(t *testing.T, snk SinkHarness, dir string, want []string, svc *Service, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		missing, ex, _ := Check(Count(snk.Read(t, dir)), want)
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records still missing after %s (e.g. %s)\nservice log:\n%s", missing, len(want), timeout, ex, svc.Stderr())
		}
		select {
		case <-svc.Exited():
			if missing, ex, _ = Check(Count(snk.Read(t, dir)), want); missing > 0 {
				t.Fatalf("service exited with %d of %d records missing (e.g. %s)\nservice log:\n%s", missing, len(want), ex, svc.Stderr())
			}
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// gate wraps a real sink: while failing, it rejects about half of the
// documents, always the same ones (by a hash of the document, so a retry
// does not get through by shifting indices), and forwards the rest to the
// real sink: a partial batch failure.
type gate struct {
	inner   sink.Sink
	failing atomic.Bool
	mu      sync.Mutex
	rejects int
	keep    []sink.Doc
}

func (g *gate) Name() string { return g.inner.Name() }
func (g *gate) Close() error { return g.inner.Close() }
func (g *gate) Write(ctx context.Context, docs []sink.Doc) error {
	if !g.failing.Load() {
		return g.inner.Write(ctx, docs)
	}
	var failed []int
	g.keep = g.keep[:0]
	for i, d := range docs {
		if crc32.ChecksumIEEE(d.JSON)%2 == 1 {
			failed = append(failed, i)
		} else {
			g.keep = append(g.keep, d)
		}
	}
	if err := g.inner.Write(ctx, g.keep); err != nil {
		return err
	}
	g.mu.Lock()
	g.rejects += len(failed)
	g.mu.Unlock()
	if len(failed) == 0 {
		return nil
	}
	return &sink.PartialError{Failed: failed, Err: errors.New("injected failure")}
}

func partialFailure(t *testing.T, src SourceHarness, snk SinkHarness) {
	dir := t.TempDir()
	m := metrics.New()
	log := slog.New(slog.DiscardHandler)
	source := src.Open(t, dir, Env{Metrics: m, Logger: log})
	g := &gate{inner: snk.Open(t, dir)}
	g.failing.Store(true)
	dl, err := deadletter.OpenFile(filepath.Join(dir, "dead-letter.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline.New(pipeline.Options{
		Sinks: []sink.Sink{g}, DeadLetter: dl, Metrics: m, Logger: log,
		Workers: Workers, QueueBatches: QueueBatches, RetryInitial: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond,
		DrainTimeout: 20 * time.Second,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, []pipeline.Source{source}) }()
	want := IDs(src.Records, "p")
	go src.Produce(t, dir, Records(src.Records, "p"))

	// Wait until the sink has been failing for a while (a consumer group
	// takes seconds to join), then check that the position did not move
	// and that the pipeline did not take more than its bounded window.
	rejected := func() int {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.rejects
	}
	for start := time.Now(); rejected() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 60*time.Second {
			t.Fatal("the sink was never called")
		}
	}
	time.Sleep(time.Second)
	if n := src.Delivered(t, dir); n != 0 {
		t.Errorf("position advanced to %d records while the sink rejected part of every batch", n)
	}
	taken := metricSum(t, m, "defender_intake_messages_received_total")
	bound := (QueueBatches + Workers + 1) * src.MaxBatchMessages
	if taken > float64(bound) {
		t.Errorf("pipeline took %v messages while blocked, more than the window of %d: memory is not bounded", taken, bound)
	}
	rejects := rejected()
	t.Logf("while failing: %d rejections, %v messages taken (bound %d)", rejects, taken, bound)

	g.failing.Store(false)
	deadline := time.Now().Add(60 * time.Second)
	for {
		missing, ex, _ := Check(Count(snk.Read(t, dir)), want)
		if missing == 0 && src.Delivered(t, dir) >= len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after recovery: %d of %d records missing (e.g. %s), position %d", missing, len(want), ex, src.Delivered(t, dir))
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// metricSum adds up every series of the counter or gauge family name.
func metricSum(t *testing.T, m *metrics.Metrics, name string) float64 {
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			sum += s.GetCounter().GetValue() + s.GetGauge().GetValue()
		}
	}
	return sum
}
