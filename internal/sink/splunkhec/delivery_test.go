package splunkhec

import (
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/sink"
)

// collectors holds one in-process HEC per test directory, shared by the
// service (a child process), the in-process sink and Read.
var collectors sync.Map

func hecFor(t *testing.T, dir string) (*hec, string) {
	type entry struct {
		h   *hec
		url string
	}
	if v, ok := collectors.Load(dir); ok {
		return v.(entry).h, v.(entry).url
	}
	h := &hec{useAck: true, acks: map[int64]int{}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	collectors.Store(dir, entry{h, srv.URL})
	return h, srv.URL
}

// The suite runs with indexer acknowledgement on.
func TestDelivery(t *testing.T) {
	deliverytest.RunSinkSuite(t, deliverytest.SinkHarness{
		Entry: func(t *testing.T, dir string) map[string]any {
			_, url := hecFor(t, dir)
			return map[string]any{"name": "under-test", "type": "splunk_hec", "url": url, "token": "tok-1", "ack": true,
				"dead_letter": filepath.Join(dir, "hec-dl.ndjson")}
		},
		Open: func(t *testing.T, dir string) sink.Sink {
			_, url := hecFor(t, dir)
			c := DefaultConfig()
			c.URL, c.Token, c.Ack = url, config.NewSecret("tok-1"), true
			c.DeadLetter = filepath.Join(dir, "hec-dl.ndjson")
			s, err := Open("under-test", *c)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Read: func(t *testing.T, dir string) [][]byte {
			h, _ := hecFor(t, dir)
			events, _, bad := h.accepted()
			if len(bad) > 0 {
				t.Fatalf("format problems: %v", bad[:min(len(bad), 3)])
			}
			out := make([][]byte, len(events))
			for i, e := range events {
				out[i], _ = json.Marshal(e["event"])
			}
			return out
		},
	})
}
