package sekoia

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/sink"
)

// intakes holds one in-process intake per test directory, so that the
// service (a child process), the in-process sink and Read share it.
var intakes sync.Map

func intakeFor(t *testing.T, dir string) (*intake, string) {
	if v, ok := intakes.Load(dir); ok {
		p := v.([2]any)
		return p[0].(*intake), p[1].(string)
	}
	in := &intake{t: t}
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	intakes.Store(dir, [2]any{in, srv.URL})
	return in, srv.URL
}

func TestDelivery(t *testing.T) {
	deliverytest.RunSinkSuite(t, deliverytest.SinkHarness{
		Entry: func(t *testing.T, dir string) map[string]any {
			_, url := intakeFor(t, dir)
			return map[string]any{"name": "under-test", "type": "sekoia", "intake_server": url, "intake_key": "key-123",
				"max_batch_records": 100, "dead_letter": filepath.Join(dir, "sekoia-dl.ndjson")}
		},
		Open: func(t *testing.T, dir string) sink.Sink {
			_, url := intakeFor(t, dir)
			c := DefaultConfig()
			c.IntakeServer, c.IntakeKey, c.MaxBatchRecords = url, config.NewSecret("key-123"), 100
			c.DeadLetter = filepath.Join(dir, "sekoia-dl.ndjson")
			s, err := Open("under-test", *c)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		// The intake receives raw records: each is read back as a
		// document whose host.name is the record's DeviceName.
		Read: func(t *testing.T, dir string) [][]byte {
			in, _ := intakeFor(t, dir)
			recs, _, bad := in.accepted()
			if len(bad) > 0 {
				t.Fatalf("format problems: %v", bad[:min(len(bad), 3)])
			}
			out := make([][]byte, len(recs))
			for i, r := range recs {
				out[i] = fmt.Appendf(nil, `{"host":{"name":%q}}`, hostOf(t, r))
			}
			return out
		},
	})
}
