package kafka_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/defender-intake/defender-intake/internal/deadletter"
	"github.com/defender-intake/defender-intake/internal/metrics"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/sink"
	filesink "github.com/defender-intake/defender-intake/internal/sink/file"
	"github.com/defender-intake/defender-intake/internal/source"
	"github.com/defender-intake/defender-intake/internal/source/kafka"
)

// An undecodable message is dead-lettered with its partition, offset and
// enqueued time, a heartbeat is skipped, and the commit moves past both.
func TestUndecodableMessages(t *testing.T) {
	k, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.ListenAddrs()...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	good := deliverytest.Envelope(deliverytest.Records(10, "dl"))
	for _, v := range [][]byte{[]byte("\xff\xfe not json"), []byte("  "), good} {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	m := metrics.New()
	log := slog.New(slog.DiscardHandler)
	c := sectionFor(k.ListenAddrs())
	src, err := kafka.New("in", c, source.Env{Logger: log, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := filesink.Open("out", filesink.Config{Path: filepath.Join(dir, "out.ndjson")})
	if err != nil {
		t.Fatal(err)
	}
	dl, err := deadletter.OpenFile(filepath.Join(dir, "dead.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline.New(pipeline.Options{Sinks: []sink.Sink{fs}, DeadLetter: dl, Metrics: m, Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, []pipeline.Source{src}) }()
	for start := time.Now(); committed(t, k.ListenAddrs()) < 3*perMessage; time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("commit stuck at %d messages", committed(t, k.ListenAddrs())/perMessage)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if missing, ex, _ := deliverytest.Check(deliverytest.Count(deliverytest.ReadNDJSON(t, filepath.Join(dir, "out.ndjson"))), deliverytest.IDs(10, "dl")); missing > 0 {
		t.Fatalf("%d records missing (e.g. %s)", missing, ex)
	}
	lines := deliverytest.ReadNDJSON(t, filepath.Join(dir, "dead.ndjson"))
	if len(lines) != 1 {
		t.Fatalf("%d dead letters, want 1: %s", len(lines), lines)
	}
	var e map[string]any
	if err := json.Unmarshal(lines[0], &e); err != nil {
		t.Fatal(err)
	}
	if e["partition"] != "0" || e["offset"] != 0.0 || e["stream"] != topic || e["type"] != "kafka" || e["enqueued_time"] == nil || e["raw_base64"] == nil || e["stage"] != "envelope" {
		t.Errorf("dead letter %v", e)
	}
}
