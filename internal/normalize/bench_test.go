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

	"github.com/valyala/fastjson"
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

// BenchmarkParse compares ways to parse the records, the choice behind
// jsonParser: it against valyala/fastjson (what the normalizer used
// before) and encoding/json into map[string]any, reading every string
// (as the mapping reads most of them).
func BenchmarkParse(b *testing.B) {
	corpus := benchCorpus(b)
	var sink int
	b.Run("own", func(b *testing.B) {
		var p jsonParser
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			v, err := p.parse(b2s(corpus[i%len(corpus)]))
			if err != nil {
				b.Fatal(err)
			}
			sink += walkOwn(v)
		}
	})
	b.Run("fastjson", func(b *testing.B) {
		var p fastjson.Parser
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			v, err := p.ParseBytes(corpus[i%len(corpus)])
			if err != nil {
				b.Fatal(err)
			}
			sink += walkFastjson(v)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			var m map[string]any
			if err := json.Unmarshal(corpus[i%len(corpus)], &m); err != nil {
				b.Fatal(err)
			}
			sink += len(m)
		}
	})
	_ = sink
}

func walkOwn(v *jsonValue) int {
	n := len(v.text())
	for _, it := range v.items() {
		n += walkOwn(it)
	}
	for _, m := range v.members() {
		n += len(m.key) + walkOwn(m.val)
	}
	return n
}

func walkFastjson(v *fastjson.Value) int {
	switch v.Type() {
	case fastjson.TypeString:
		return len(v.GetStringBytes())
	case fastjson.TypeArray:
		n := 0
		for _, it := range v.GetArray() {
			n += walkFastjson(it)
		}
		return n
	case fastjson.TypeObject:
		n := 0
		v.GetObject().Visit(func(k []byte, it *fastjson.Value) { n += len(k) + walkFastjson(it) })
		return n
	}
	return 0
}
