package normalize

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchCorpus is the mixed corpus of the benchmarks: every golden input
// record (all tables), compacted to one line each as they arrive from
// Event Hubs.
func benchCorpus(b *testing.B) [][]byte {
	b.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	var out [][]byte
	for _, f := range files {
		if strings.HasSuffix(f, ".ecs.json") {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		if json.Compact(&buf, raw) != nil {
			continue
		}
		out = append(out, buf.Bytes())
	}
	if len(out) == 0 {
		b.Skip("no golden records under testdata/")
	}
	return out
}

// cpuTime is the CPU time used by the process so far. The benchmarks
// report records per CPU second beside the wall-clock rate, because other
// work on a shared machine slows the wall clock but not the CPU count.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportRate(b *testing.B, corpus [][]byte, cpuStart time.Duration) {
	cpu := cpuTime() - cpuStart
	var size int
	for _, r := range corpus {
		size += len(r)
	}
	b.SetBytes(int64(size / len(corpus)))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "records/cpu-s")
}

// BenchmarkNormalize measures the normalizer over the mixed corpus.
func BenchmarkNormalize(b *testing.B) {
	corpus := benchCorpus(b)
	n := New(Options{Now: func() time.Time { return time.Unix(1700000000, 0) }})
	var dst []byte
	for _, rec := range corpus { // one-time costs (user agent rules) out of the measure
		dst, _, _ = n.Append(dst[:0], rec)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpuStart := cpuTime()
	for i := 0; i < b.N; i++ {
		var err error
		dst, _, err = n.Append(dst[:0], corpus[i%len(corpus)])
		if err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, corpus, cpuStart)
}

// BenchmarkBaselineMapRoundTrip is the yardstick: decoding each record into
// map[string]any with encoding/json and encoding it again, which does no
// mapping at all. The normalizer must stay well ahead of it.
func BenchmarkBaselineMapRoundTrip(b *testing.B) {
	corpus := benchCorpus(b)
	b.ReportAllocs()
	b.ResetTimer()
	cpuStart := cpuTime()
	for i := 0; i < b.N; i++ {
		var m map[string]any
		if err := json.Unmarshal(corpus[i%len(corpus)], &m); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, corpus, cpuStart)
}

// BenchmarkSpeedup runs the normalizer and the baseline in alternation,
// 50 passes over the corpus each (tens of milliseconds), and reports how
// many times faster the normalizer is. On a shared machine the two
// benchmarks above run at different moments and may see different loads;
// alternating, both see the same. Each op is one round of both.
func BenchmarkSpeedup(b *testing.B) {
	const passes = 50
	corpus := benchCorpus(b)
	n := New(Options{Now: func() time.Time { return time.Unix(1700000000, 0) }})
	var dst []byte
	for _, rec := range corpus {
		dst, _, _ = n.Append(dst[:0], rec)
	}
	var normalizeTime, baselineTime time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		for range passes {
			for _, rec := range corpus {
				var err error
				if dst, _, err = n.Append(dst[:0], rec); err != nil {
					b.Fatal(err)
				}
			}
		}
		mid := time.Now()
		for range passes {
			for _, rec := range corpus {
				var m map[string]any
				if err := json.Unmarshal(rec, &m); err != nil {
					b.Fatal(err)
				}
				if _, err := json.Marshal(m); err != nil {
					b.Fatal(err)
				}
			}
		}
		normalizeTime += mid.Sub(start)
		baselineTime += time.Since(mid)
	}
	records := float64(b.N * passes * len(corpus))
	b.ReportMetric(records/normalizeTime.Seconds(), "normalize-records/s")
	b.ReportMetric(records/baselineTime.Seconds(), "baseline-records/s")
	b.ReportMetric(float64(baselineTime)/float64(normalizeTime), "x-baseline")
}
