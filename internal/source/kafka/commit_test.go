package kafka_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/defender-intake/defender-intake/internal/deadletter"
	"github.com/defender-intake/defender-intake/internal/metrics"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/sink"
	filesink "github.com/defender-intake/defender-intake/internal/sink/file"
	"github.com/defender-intake/defender-intake/internal/source"
	"github.com/defender-intake/defender-intake/internal/source/kafka"
)

// Offsets are committed right after they are acknowledged, not on the
// next commit_interval tick: with an interval of an hour, the first
// delivery is committed while the service runs (a fixed tick would not
// commit for an hour, and a crash would re-read everything), and the stop
// commits the rest.
func TestCommitFollowsAcknowledgement(t *testing.T) {
	cs := &clusters{m: map[string]*kfake.Cluster{}}
	dir := t.TempDir()
	brokers := cs.get(t, dir).ListenAddrs()
	cfg := sectionFor(brokers)
	cfg.CommitInterval = time.Hour
	m := metrics.New()
	log := slog.New(slog.DiscardHandler)
	src, err := kafka.New("in", cfg, source.Env{Logger: log, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	out, err := filesink.Open("out", filesink.Config{Path: filepath.Join(dir, "out.ndjson")})
	if err != nil {
		t.Fatal(err)
	}
	dl, err := deadletter.OpenFile(filepath.Join(dir, "dead.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline.New(pipeline.Options{Sinks: []sink.Sink{out}, DeadLetter: dl, Metrics: m, Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, []pipeline.Source{src}) }()

	const n = 2000
	produce(t, brokers, deliverytest.Records(n, "c"))
	deadline := time.Now().Add(60 * time.Second)
	for committed(t, brokers) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("nothing committed a minute after delivery began (commit_interval 1h): commits wait for the interval")
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := deliverytest.IDs(n, "c")
	for {
		missing, _, _ := deliverytest.Check(deliverytest.Count(deliverytest.ReadNDJSON(t, filepath.Join(dir, "out.ndjson"))), want)
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records not delivered", missing, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c := committed(t, brokers); c != n {
		t.Errorf("committed %d records after a graceful stop, want %d", c, n)
	}
}
