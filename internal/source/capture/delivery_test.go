package capture

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hamba/avro/v2/ocf"

	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/source"
)

const (
	deliveryBatch  = 50
	deliveryPerMsg = 2   // records per Capture event (Event Hub message)
	eventsPerFile  = 250 // Capture events per file
)

// harness runs the capture source in follow mode on a local directory
// that Produce fills with Capture files, as Capture does.
func harness(put func(t *testing.T, dir, name string, b []byte)) deliverytest.SourceHarness {
	cfg := func(dir string) Config {
		c := *DefaultConfig()
		c.Path, c.Follow, c.PollInterval = filepath.Join(dir, "capture"), true, 20*time.Millisecond
		c.BatchMessages, c.StatePath, c.CheckpointInterval = deliveryBatch, filepath.Join(dir, "capture-state.json"), 20*time.Millisecond
		return c
	}
	return deliverytest.SourceHarness{
		Entry: func(t *testing.T, dir string) map[string]any {
			c := cfg(dir)
			return map[string]any{"name": "in", "type": "capture", "path": c.Path, "follow": true, "poll_interval": "20ms",
				"batch_messages": deliveryBatch, "state_path": c.StatePath, "checkpoint_interval": "20ms"}
		},
		Produce: func(t *testing.T, dir string, records [][]byte) {
			var seq int64
			for file := 0; len(records) > 0; file++ {
				var evs []Event
				for len(evs) < eventsPerFile && len(records) > 0 {
					n := min(deliveryPerMsg, len(records))
					evs = append(evs, Event{SequenceNumber: seq, Offset: fmt.Sprint(seq), EnqueuedTimeUtc: "1/4/2023 2:16:55 PM",
						SystemProperties: map[string]any{}, Properties: map[string]any{}, Body: deliverytest.Envelope(records[:n])})
					records = records[n:]
					seq++
				}
				name := fmt.Sprintf("ns/hub/0/2023/01/04/%02d/%02d/00.avro", file/60, file%60)
				put(t, dir, name, captureFile(t, ocf.Deflate, evs))
			}
		},
		Open: func(t *testing.T, dir string, env deliverytest.Env) pipeline.Source {
			s, err := New("in", cfg(dir), source.Env{Logger: env.Logger, Metrics: env.Metrics})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Delivered: func(t *testing.T, dir string) int {
			b, err := os.ReadFile(filepath.Join(dir, "capture-state.json"))
			if err != nil {
				return 0
			}
			var st map[string]filePos
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatalf("capture state: %v", err)
			}
			n := 0
			for _, p := range st {
				n += int(p.Records) * deliveryPerMsg
			}
			return n
		},
		MaxBatchMessages:  deliveryBatch,
		RecordsPerMessage: deliveryPerMsg,
		// Progress is saved every 20ms; what was acknowledged in the last
		// interval before a kill is read again.
		ExtraDuplicates: 2000,
	}
}

func TestDelivery(t *testing.T) {
	deliverytest.RunSourceSuite(t, harness(func(t *testing.T, dir, name string, b []byte) {
		writeFile(t, filepath.Join(dir, "capture"), name, b)
	}))
}
