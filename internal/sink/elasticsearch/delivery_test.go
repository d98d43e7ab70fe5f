package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

// clusters holds one fake cluster per test directory, shared by the
// service (a child process), the in-process sink and Read.
var clusters sync.Map

func clusterFor(t *testing.T, dir string) (*fakeES, string) {
	type entry struct {
		f   *fakeES
		url string
	}
	if v, ok := clusters.Load(dir); ok {
		return v.(entry).f, v.(entry).url
	}
	f := newFakeES("ApiKey a2V5")
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	clusters.Store(dir, entry{f, srv.URL})
	return f, srv.URL
}

func TestDelivery(t *testing.T) {
	deliverytest.RunSinkSuite(t, deliverytest.SinkHarness{
		Entry: func(t *testing.T, dir string) map[string]any {
			_, url := clusterFor(t, dir)
			return map[string]any{"name": "under-test", "type": "elasticsearch", "url": url, "api_key": "a2V5",
				"dead_letter": filepath.Join(dir, "es-dl.ndjson")}
		},
		Open: func(t *testing.T, dir string) sink.Sink {
			_, url := clusterFor(t, dir)
			c := DefaultConfig()
			c.URL, c.APIKey, c.DeadLetter = url, config.NewSecret("a2V5"), filepath.Join(dir, "es-dl.ndjson")
			s, err := Open(context.Background(), "under-test", *c)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Read: func(t *testing.T, dir string) [][]byte {
			f, _ := clusterFor(t, dir)
			docs, _, bad := f.all()
			if len(bad) > 0 {
				t.Fatalf("format problems: %v", bad[:min(len(bad), 3)])
			}
			return docs
		},
	})
}

// TestLiveCluster runs against a real cluster when ELASTICSEARCH_URL is
// set (with ELASTICSEARCH_API_KEY, or ELASTICSEARCH_USERNAME and
// ELASTICSEARCH_PASSWORD, and ELASTICSEARCH_CA_FILE for a private CA).
func TestLiveCluster(t *testing.T) {
	url := os.Getenv("ELASTICSEARCH_URL")
	if url == "" {
		t.Skip("ELASTICSEARCH_URL not set")
	}
	c := DefaultConfig()
	c.URL = url
	c.APIKey = config.NewSecret(os.Getenv("ELASTICSEARCH_API_KEY"))
	c.Username, c.Password = os.Getenv("ELASTICSEARCH_USERNAME"), config.NewSecret(os.Getenv("ELASTICSEARCH_PASSWORD"))
	c.TLS.CAFile = os.Getenv("ELASTICSEARCH_CA_FILE")
	c.Namespace = fmt.Sprintf("test%d", time.Now().UnixNano())
	c.DeadLetter = filepath.Join(t.TempDir(), "dl.ndjson")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), "es-live", *c)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	docs := forwardtest.Docs(500, "live")
	if err := s.Write(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	ds := s.DataStream("device_process_events")
	get := func(path string) map[string]any {
		resp, err := s.retry.Do(context.Background(), s.client, s.request(http.MethodPost, path, "application/json", nil))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal(resp, &m)
		return m
	}
	get("/" + ds + "/_refresh")
	if n := get("/" + ds + "/_count")["count"]; fmt.Sprint(n) != "500" {
		t.Errorf("count %v in %s, want 500", n, ds)
	}
	if dl := forwardtest.DeadLetters(t, c.DeadLetter); len(dl) > 0 {
		t.Errorf("dead-lettered: %v", dl[0])
	}
	// Clean up the test's data stream.
	if _, err := s.retry.Do(context.Background(), s.client, s.request(http.MethodDelete, "/_data_stream/"+ds, "application/json", nil)); err != nil {
		t.Logf("delete data stream %s: %v", ds, err)
	}
}
