package pipeline_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/deadletter"
	"github.com/defender-intake/defender-intake/internal/normalize"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/sink"
	filesink "github.com/defender-intake/defender-intake/internal/sink/file"
	"github.com/defender-intake/defender-intake/internal/source"
	filesrc "github.com/defender-intake/defender-intake/internal/source/file"
)

// BenchmarkFileToFile measures the whole pipeline, file source -> envelope
// -> normalize -> file sink (fsync per batch), one op per record. The
// baseline, measured in the same run on the same records, is one
// normalizer in a loop; x_single_normalizer is the pipeline's rate over it.
//
//	go test -run '^$' -bench FileToFile -benchtime 200000x ./internal/pipeline/
func BenchmarkFileToFile(b *testing.B) {
	dir := b.TempDir()
	recs := deliverytest.Records(b.N, "bench")
	var in bytes.Buffer
	for _, r := range recs {
		in.Write(r)
		in.WriteByte('\n')
	}
	inPath := filepath.Join(dir, "in.ndjson")
	if err := os.WriteFile(inPath, in.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}

	n := normalize.New(normalize.Options{})
	var dst []byte
	start := time.Now()
	for _, r := range recs {
		var err error
		dst, _, err = n.Append(dst[:0], r)
		if err != nil {
			b.Fatal(err)
		}
	}
	baseline := float64(len(recs)) / time.Since(start).Seconds()

	log := slog.New(slog.DiscardHandler)
	cfg := *filesrc.DefaultConfig()
	cfg.Paths = []string{inPath}
	src := filesrc.New("in", cfg, source.Env{Logger: log})
	out, err := filesink.Open("out", filesink.Config{Path: filepath.Join(dir, "out.ndjson")})
	if err != nil {
		b.Fatal(err)
	}
	dl, err := deadletter.OpenFile(filepath.Join(dir, "dead.ndjson"))
	if err != nil {
		b.Fatal(err)
	}
	p := pipeline.New(pipeline.Options{Sinks: []sink.Sink{out}, DeadLetter: dl, Logger: log})
	b.ReportAllocs()
	b.SetBytes(int64(in.Len() / max(1, b.N)))
	b.ResetTimer()
	start = time.Now()
	if err := p.Run(context.Background(), []pipeline.Source{src}); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, "records/s")
	b.ReportMetric(baseline, "baseline_records/s")
	b.ReportMetric(rate/baseline, "x_single_normalizer")
	if st, err := os.Stat(filepath.Join(dir, "out.ndjson")); err != nil || st.Size() == 0 {
		b.Fatalf("no output: %v", err)
	}
}
