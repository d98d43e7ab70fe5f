package capture

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hamba/avro/v2/ocf"

	"github.com/defender-intake/defender-intake/internal/envelope"
	"github.com/defender-intake/defender-intake/internal/pipeline"
)

// countEmitter acknowledges at once and counts messages.
type countEmitter struct{ n int }

func (c *countEmitter) Emit(_ context.Context, b *pipeline.Batch) error {
	c.n += len(b.Messages)
	b.Ack(nil)
	return nil
}

// BenchmarkRead reads a deflate Capture file of 2,000 events (10 records
// each) from disk, against the baseline of splitting the same bodies
// into records (the pipeline's next step), so the ratio says whether
// Avro decoding can hold the pipeline back.
func BenchmarkRead(b *testing.B) {
	evs := events(2000, 10, "b", 0)
	data := captureFile(b, ocf.Deflate, evs)
	root := b.TempDir()
	writeFile(b, root, hubDir+"0/2023/01/04/14/15/00.avro", data)
	b.Run("baseline=split-bodies", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for i := 0; i < b.N; i++ {
			for _, e := range evs {
				if err := envelope.SplitBody(e.Body, func([]byte) {}); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(len(evs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("capture", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			c := localConfig(root, filepath.Join(b.TempDir(), "state.json"))
			c.BatchMessages = 100
			s := newSource(b, c)
			e := &countEmitter{}
			if err := s.Run(context.Background(), e); err != nil || e.n != len(evs) {
				b.Fatalf("%v, %d events", err, e.n)
			}
		}
		b.ReportMetric(float64(len(evs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}
