package forwardtest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/normalize"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/sink"
	filesink "github.com/defender-intake/defender-intake/internal/sink/file"
)

// NormalizedDocs returns n documents made by the real normalizer from
// DeviceProcessEvents records, with origin fields, as the pipeline hands
// them to sinks.
func NormalizedDocs(tb testing.TB, n int) []sink.Doc {
	tb.Helper()
	norm := normalize.New(normalize.Options{})
	origin := pipeline.Origin{Source: "hub", Type: "eventhub", Stream: "defender", Partition: "0", Offset: 1, SequenceNumber: 1, EnqueuedTime: time.Now()}
	extra := pipeline.OriginFields(nil, origin, time.Now())
	out := make([]sink.Doc, 0, n)
	for _, rec := range deliverytest.Records(n, "bench") {
		doc, meta, err := norm.Append(nil, rec, extra...)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, sink.Doc{JSON: doc, Dataset: meta.Dataset, Timestamp: meta.Timestamp})
	}
	return out
}

// BenchWrite measures s.Write of docs, reporting documents per second
// and bytes of document per second.
func BenchWrite(b *testing.B, s sink.Sink, docs []sink.Doc) {
	var size int64
	for _, d := range docs {
		size += int64(len(d.JSON))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Write(context.Background(), docs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(docs))*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}

// BenchBaseline is the same measure for the file sink (NDJSON, fsync per
// Write): the baseline the forwarding sinks are compared with.
func BenchBaseline(b *testing.B, docs []sink.Doc) {
	s, err := filesink.Open("baseline", filesink.Config{Path: filepath.Join(b.TempDir(), "out.ndjson")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	BenchWrite(b, s, docs)
}

// DiscardServer answers every request with reply(body) after reading
// the body: a target that costs the client nothing but the transfer, so
// that a benchmark measures the sink itself.
func DiscardServer(tb testing.TB, reply func(body []byte) []byte) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Write(reply(body))
	}))
	tb.Cleanup(srv.Close)
	return srv.URL
}
