package capture

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hamba/avro/v2/ocf"

	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
)

// A backfill without follow ends by itself: `run` exits 0 once every
// file is read and delivered, and a second run delivers nothing again.
func TestRunEndsWhenDone(t *testing.T) {
	bin := deliverytest.Binary(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "capture")
	writeFile(t, root, hubDir+"0/2023/01/04/14/15/00.avro", captureFile(t, ocf.Deflate, events(300, 3, "r", 0)))
	writeFile(t, root, hubDir+"1/2023/01/04/14/15/00.avro", captureFile(t, ocf.Snappy, events(100, 1, "s", 0)))
	src := map[string]any{"name": "backfill", "type": "capture", "path": root, "state_path": filepath.Join(dir, "state.json")}
	snk := map[string]any{"name": "out", "type": "file", "path": filepath.Join(dir, "out", "events.ndjson"), "max_size_mb": 0}
	cfg := deliverytest.WriteConfig(t, dir, src, snk)
	want := append(deliverytest.IDs(900, "r"), deliverytest.IDs(100, "s")...)
	for run := 1; run <= 2; run++ {
		out, err := exec.Command(bin, "run", "--config", cfg).CombinedOutput()
		if err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, out)
		}
		missing, ex, dups := deliverytest.Check(deliverytest.Count(deliverytest.ReadNDJSON(t, filepath.Join(dir, "out", "events*.ndjson"))), want)
		if missing > 0 || dups > 0 {
			t.Fatalf("after run %d: %d missing (e.g. %s), %d duplicates", run, missing, ex, dups)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "dead-letter.ndjson")); err == nil {
		if b, _ := os.ReadFile(filepath.Join(dir, "dead-letter.ndjson")); len(b) > 0 {
			t.Errorf("dead letters: %s", b)
		}
	}
}
