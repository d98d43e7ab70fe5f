package kafka

import (
	"testing"

	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

// BenchmarkWrite produces batches of 5,000 normalized documents to an
// in-process kfake cluster (snappy, acks=all), against the file sink as
// baseline.
func BenchmarkWrite(b *testing.B) {
	docs := forwardtest.NormalizedDocs(b, 5000)
	b.Run("baseline=file-sink", func(b *testing.B) { forwardtest.BenchBaseline(b, docs) })
	b.Run("kafka", func(b *testing.B) {
		k := cluster(b, "defender.device_process_events")
		forwardtest.BenchWrite(b, openSink(b, k, nil), docs)
	})
}
