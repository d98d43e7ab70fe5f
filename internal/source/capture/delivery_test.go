package capture

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/hamba/avro/v2/ocf"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/source"
)

const (
	deliveryBatch  = 50
	deliveryPerMsg = 2   // records per Capture event (Event Hub message)
	eventsPerFile  = 250 // Capture events per file
)

// place says where a test directory's Capture files are: the keys of
// the config entry, the same in the section, and how to add a file.
type place struct {
	entry func(t *testing.T, dir string) map[string]any
	set   func(t *testing.T, dir string, c *Config)
	put   func(t *testing.T, dir, name string, b []byte)
}

// harness runs the capture source in follow mode on a place that Produce
// fills with Capture files, as Capture does.
func harness(where place) deliverytest.SourceHarness {
	put := where.put
	cfg := func(t *testing.T, dir string) Config {
		c := *DefaultConfig()
		where.set(t, dir, &c)
		c.Follow, c.PollInterval = true, 20*time.Millisecond
		c.BatchMessages, c.StatePath, c.CheckpointInterval = deliveryBatch, filepath.Join(dir, "capture-state.json"), 20*time.Millisecond
		return c
	}
	return deliverytest.SourceHarness{
		Entry: func(t *testing.T, dir string) map[string]any {
			e := map[string]any{"name": "in", "type": "capture", "follow": true, "poll_interval": "20ms",
				"batch_messages": deliveryBatch, "state_path": filepath.Join(dir, "capture-state.json"), "checkpoint_interval": "20ms"}
			for k, v := range where.entry(t, dir) {
				e[k] = v
			}
			return e
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
			s, err := New("in", cfg(t, dir), source.Env{Logger: env.Logger, Metrics: env.Metrics})
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
		// Progress is saved after acknowledgements, at most every 20ms;
		// what was acknowledged in the last interval before a kill is
		// read again.
		ExtraDuplicates: 2000,
	}
}

func TestDelivery(t *testing.T) {
	deliverytest.RunSourceSuite(t, harness(place{
		entry: func(t *testing.T, dir string) map[string]any {
			return map[string]any{"path": filepath.Join(dir, "capture")}
		},
		set: func(t *testing.T, dir string, c *Config) { c.Path = filepath.Join(dir, "capture") },
		put: func(t *testing.T, dir, name string, b []byte) { writeFile(t, filepath.Join(dir, "capture"), name, b) },
	}))
}

// TestDeliveryBlob runs the suite with the files in an Azurite container,
// one per test directory.
func TestDeliveryBlob(t *testing.T) {
	cs := azurite(t)
	var containers sync.Map
	containerFor := func(t *testing.T, dir string) *container.Client {
		if v, ok := containers.Load(dir); ok {
			return v.(*container.Client)
		}
		name := fmt.Sprintf("capture-%d", time.Now().UnixNano())
		cc, err := container.NewClientFromConnectionString(cs, name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cc.Create(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Delete(context.Background(), nil) })
		v, _ := containers.LoadOrStore(dir, cc)
		return v.(*container.Client)
	}
	name := func(t *testing.T, dir string) string {
		n, _ := blobContainerName(containerFor(t, dir).URL())
		return n
	}
	deliverytest.RunSourceSuite(t, harness(place{
		entry: func(t *testing.T, dir string) map[string]any {
			return map[string]any{"storage_connection_string": cs, "container": name(t, dir)}
		},
		set: func(t *testing.T, dir string, c *Config) {
			c.StorageConnectionString, c.Container = config.NewSecret(cs), name(t, dir)
		},
		put: func(t *testing.T, dir, blob string, b []byte) {
			if _, err := containerFor(t, dir).NewBlockBlobClient(blob).UploadBuffer(context.Background(), b, nil); err != nil {
				t.Error(err)
			}
		},
	}))
}

// blobContainerName is the last path element of a container URL.
func blobContainerName(u string) (string, bool) {
	i := strings.LastIndexByte(strings.TrimRight(u, "/"), '/')
	return strings.TrimRight(u, "/")[i+1:], i >= 0
}
