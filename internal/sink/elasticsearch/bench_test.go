package elasticsearch

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

// BenchmarkWrite sends batches of 5,000 normalized documents to a local
// server that answers "created" for every item without parsing them,
// against the file sink as baseline.
func BenchmarkWrite(b *testing.B) {
	docs := forwardtest.NormalizedDocs(b, 5000)
	url := forwardtest.DiscardServer(b, func(body []byte) []byte {
		items := bytes.Count(body, []byte{'\n'}) / 2
		out := []byte(`{"took":1,"errors":false,"items":[`)
		for i := 0; i < items; i++ {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"create":{"status":201}}`...)
		}
		return append(out, "]}"...)
	})
	b.Run("baseline=file-sink", func(b *testing.B) { forwardtest.BenchBaseline(b, docs) })
	b.Run("elasticsearch", func(b *testing.B) {
		c := DefaultConfig()
		c.URL, c.APIKey, c.Setup, c.DeadLetter = url, config.NewSecret("k"), false, filepath.Join(b.TempDir(), "dl")
		s, err := Open(context.Background(), "bench", *c)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		forwardtest.BenchWrite(b, s, docs)
	})
}
