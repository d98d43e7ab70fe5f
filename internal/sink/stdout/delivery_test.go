package stdout_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/stdout"
)

// The suite's service writes its standard output to DIR/stdout.ndjson.
func TestDelivery(t *testing.T) {
	deliverytest.RunSinkSuite(t, deliverytest.SinkHarness{
		Entry: func(t *testing.T, dir string) map[string]any {
			return map[string]any{"name": "under-test", "type": "stdout"}
		},
		Open: func(t *testing.T, dir string) sink.Sink {
			f, err := os.OpenFile(filepath.Join(dir, "stdout.ndjson"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			return stdout.New("under-test", f)
		},
		Read: func(t *testing.T, dir string) [][]byte {
			return deliverytest.ReadNDJSON(t, filepath.Join(dir, "stdout.ndjson"))
		},
	})
}
