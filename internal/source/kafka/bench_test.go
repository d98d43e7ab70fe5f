package kafka_test

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"gopkg.in/yaml.v3"

	"github.com/defender-intake/defender-intake/internal/normalize"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
)

// BenchmarkKafkaToFileBinary runs the real binary: Kafka (kfake, 4
// partitions, envelopes of 10 records) -> normalize -> file sink, one op
// per record. records/s is measured from the first to the last document
// delivered (group join excluded), peak_rss_MB is the service's VmHWM.
// The baseline in the same run is one normalizer in a loop in this process.
//
//	go test -run '^$' -bench KafkaToFile -benchtime 200000x ./internal/source/kafka/
func BenchmarkKafkaToFileBinary(b *testing.B) {
	n := max(b.N, perMessage)
	recs := deliverytest.Records(n, "bench")
	norm := normalize.New(normalize.Options{})
	var dst []byte
	start := time.Now()
	for _, r := range recs {
		dst, _, _ = norm.Append(dst[:0], r)
	}
	baseline := float64(n) / time.Since(start).Seconds()

	k, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	produceB(b, k.ListenAddrs(), recs)
	recs = nil

	dir := b.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	server := ln.Addr().String()
	ln.Close()
	cfg := map[string]any{
		"server":      map[string]any{"listen": server},
		"log":         map[string]any{"level": "warn"},
		"dead_letter": map[string]any{"path": filepath.Join(dir, "dead.ndjson")},
		"sources": []any{map[string]any{"name": "in", "type": "kafka", "brokers": k.ListenAddrs(), "topics": []string{topic},
			"group": "bench", "session_timeout": "6s"}},
		"sinks": []any{map[string]any{"name": "out", "type": "file", "path": filepath.Join(dir, "out", "events.ndjson"), "max_size_mb": 0}},
	}
	yb, _ := yaml.Marshal(cfg)
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, yb, 0o600); err != nil {
		b.Fatal(err)
	}
	deliverytest.Binary(b)
	b.ResetTimer()
	svc := deliverytest.Start(b, dir, cfgPath)
	var t0, t1 time.Time
	var n0 float64
	deadline := time.Now().Add(10 * time.Minute)
	for {
		docs := sinkDocs(server)
		if docs > 0 && t0.IsZero() {
			t0, n0 = time.Now(), docs
		}
		if docs >= float64(n) {
			t1 = time.Now()
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %v of %d documents after 10 minutes\n%s", docs, n, svc.Stderr())
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	rss, err := svc.PeakRSS()
	if err != nil {
		b.Fatal(err)
	}
	svc.Stop(30 * time.Second)
	rate := (float64(n) - n0) / t1.Sub(t0).Seconds()
	b.ReportMetric(rate, "records/s")
	b.ReportMetric(baseline, "baseline_records/s")
	b.ReportMetric(rate/baseline, "x_single_normalizer")
	b.ReportMetric(float64(rss)/(1<<20), "peak_rss_MB")
}

func produceB(b *testing.B, brokers []string, recs [][]byte) {
	t := &testing.T{}
	produce(t, brokers, recs)
	if t.Failed() {
		b.Fatal("produce failed")
	}
}

var docsRe = regexp.MustCompile(`(?m)^defender_intake_sink_documents_total\{sink="out"\} (\S+)$`)

func sinkDocs(server string) float64 {
	resp, err := http.Get("http://" + server + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := docsRe.FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}
