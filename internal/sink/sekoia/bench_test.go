package sekoia

import (
	"path/filepath"
	"testing"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

// BenchmarkWrite sends batches of 5,000 normalized documents to a local
// intake that only reads the body, against the file sink as baseline.
func BenchmarkWrite(b *testing.B) {
	docs := forwardtest.NormalizedDocs(b, 5000)
	url := forwardtest.DiscardServer(b, func([]byte) []byte { return []byte(`{"received":true}`) })
	b.Run("baseline=file-sink", func(b *testing.B) { forwardtest.BenchBaseline(b, docs) })
	b.Run("sekoia", func(b *testing.B) {
		c := DefaultConfig()
		c.IntakeServer, c.IntakeKey, c.DeadLetter = url, config.NewSecret("k"), filepath.Join(b.TempDir(), "dl")
		s, err := Open("bench", *c)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		forwardtest.BenchWrite(b, s, docs)
	})
}
