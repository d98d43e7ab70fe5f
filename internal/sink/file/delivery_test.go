package file_test

import (
	"path/filepath"
	"testing"

	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/file"
)

// The file sink rotates at 1 MB here so that rotation happens during the
// delivery tests (20,000 documents are about 20 MB).
func TestDelivery(t *testing.T) {
	deliverytest.RunSinkSuite(t, deliverytest.SinkHarness{
		Entry: func(t *testing.T, dir string) map[string]any {
			return map[string]any{"name": "under-test", "type": "file", "path": filepath.Join(dir, "sink", "ecs.ndjson"), "max_size_mb": 1, "max_files": 0}
		},
		Open: func(t *testing.T, dir string) sink.Sink {
			s, err := file.Open("under-test", file.Config{Path: filepath.Join(dir, "sink", "ecs.ndjson"), MaxSizeMB: 1})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Read: func(t *testing.T, dir string) [][]byte {
			return deliverytest.ReadNDJSON(t, filepath.Join(dir, "sink", "ecs*.ndjson"))
		},
	})
}
