package clickhouse

import (
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

// BenchmarkWrite inserts batches of 5,000 normalized documents into the
// real server, against the file sink as baseline.
func BenchmarkWrite(b *testing.B) {
	docs := forwardtest.NormalizedDocs(b, 5000)
	b.Run("baseline=file-sink", func(b *testing.B) { forwardtest.BenchBaseline(b, docs) })
	b.Run("clickhouse", func(b *testing.B) { forwardtest.BenchWrite(b, openSink(b, nil), docs) })
}

// BenchmarkRows is the encoding alone (documents to JSONEachRow rows).
func BenchmarkRows(b *testing.B) {
	docs := forwardtest.NormalizedDocs(b, 5000)
	s := &Sink{now: time.Now}
	b.ReportAllocs()
	var buf []byte
	for i := 0; i < b.N; i++ {
		buf = buf[:0]
		for _, d := range docs {
			buf = s.appendRow(buf, d)
		}
	}
	b.ReportMetric(float64(len(docs))*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}
