package normalize

import "testing"

// BenchmarkAppendString measures escaping the raw records of the corpus as
// JSON strings (the document's message), the largest single output cost.
func BenchmarkAppendString(b *testing.B) {
	corpus := benchCorpus(b)
	var total int
	for _, r := range corpus {
		total += len(r)
	}
	b.SetBytes(int64(total / len(corpus)))
	buf := make([]byte, 0, 1<<16)
	i := 0
	cpu := cpuTime()
	for b.Loop() {
		buf = appendString(buf[:0], string(corpus[i%len(corpus)]))
		i++
	}
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
}
