package deliverytest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/source"
	filesrc "github.com/defender-intake/defender-intake/internal/source/file"
)

// FileSource is the harness of the file source in follow mode: Produce
// appends NDJSON to DIR/in/input.ndjson.
func FileSource() SourceHarness {
	const batch = 100
	cfg := func(dir string) filesrc.Config {
		c := *filesrc.DefaultConfig()
		c.Paths = []string{filepath.Join(dir, "in", "*.ndjson")}
		c.Follow = true
		c.PollInterval = 20e6 // 20ms
		c.BatchRecords = batch
		c.StatePath = filepath.Join(dir, "file-positions.json")
		c.CheckpointInterval = 20e6
		return c
	}
	return SourceHarness{
		Entry: func(t *testing.T, dir string) map[string]any {
			c := cfg(dir)
			return map[string]any{"name": "in", "type": "file", "paths": c.Paths, "follow": true,
				"poll_interval": "20ms", "batch_records": batch, "state_path": c.StatePath, "checkpoint_interval": "20ms"}
		},
		Produce: func(t *testing.T, dir string, records [][]byte) {
			if err := os.MkdirAll(filepath.Join(dir, "in"), 0o750); err != nil {
				t.Error(err)
				return
			}
			f, err := os.OpenFile(filepath.Join(dir, "in", "input.ndjson"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			// Whole lines per write, in chunks, so that the reader sees
			// the file grow while the service runs.
			for len(records) > 0 {
				n := min(len(records), 500)
				var b bytes.Buffer
				for _, r := range records[:n] {
					b.Write(r)
					b.WriteByte('\n')
				}
				if _, err := f.Write(b.Bytes()); err != nil {
					t.Error(err)
					return
				}
				records = records[n:]
			}
		},
		Open: func(t *testing.T, dir string, env Env) pipeline.Source {
			return filesrc.New("in", cfg(dir), source.Env{Logger: env.Logger, Metrics: env.Metrics})
		},
		Delivered: func(t *testing.T, dir string) int {
			b, err := os.ReadFile(filepath.Join(dir, "file-positions.json"))
			if err != nil {
				return 0
			}
			var st map[string]struct {
				Records int `json:"records"`
			}
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatalf("file positions: %v", err)
			}
			n := 0
			for _, p := range st {
				n += p.Records
			}
			return n
		},
		MaxBatchMessages: batch,
		// Positions are saved after acknowledgements, at most every 20ms;
		// what was acknowledged in the last interval before the kill is
		// read again.
		ExtraDuplicates: 2000,
	}
}
