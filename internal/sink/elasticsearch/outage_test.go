package elasticsearch

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

// A wrong API key, missing privileges or a wrong URL hold the documents,
// they do not dead-letter them.
func TestTargetOutage(t *testing.T) {
	forwardtest.TargetOutage(t, outageSetup)
}

// A server down or refusing the sink at start does not stop it from
// opening: the rows are held until the first Writes set the target up.
func TestDownAtStart(t *testing.T) {
	forwardtest.DownAtStart(t, outageSetup)
}

func outageSetup(t *testing.T) forwardtest.Outage {
	es := newFakeES("ApiKey a2V5")
	dl := filepath.Join(t.TempDir(), "dl.ndjson")
	return forwardtest.Outage{
		Target:     es,
		DeadLetter: dl,
		Open: func(url string) sink.Sink {
			return openSink(t, url, func(c *Config) { c.DeadLetter = dl })
		},
		Delivered: func() []string { return esHosts(t, es) },
	}
}

func esHosts(t *testing.T, es *fakeES) []string {
	docs, _, bad := es.all()
	if len(bad) > 0 {
		t.Fatalf("format problems: %v", bad)
	}
	hosts := make([]string, len(docs))
	for i, d := range docs {
		var m map[string]any
		if err := json.Unmarshal(d, &m); err != nil {
			t.Fatal(err)
		}
		hosts[i] = host(m)
	}
	return hosts
}

// An item refused for the API key's privileges on its index (403) or an
// index the cluster may not create (404) is the configuration, not the
// document: it is retried, not dead-lettered, while a mapping error (400)
// on another item still is.
func TestItemRefusedForPrivileges(t *testing.T) {
	for _, status := range []int{http.StatusForbidden, http.StatusNotFound} {
		es := newFakeES("ApiKey a2V5")
		var refuse atomic.Bool
		refuse.Store(true)
		es.itemFail = func(doc map[string]any) (int, string) {
			switch {
			case host(doc) == "p-2":
				return 400, "document_parsing_exception"
			case refuse.Load() && host(doc) == "p-4":
				return status, "security_exception"
			}
			return 0, ""
		}
		srv := httptest.NewServer(es)
		defer srv.Close()
		url := srv.URL
		dl := filepath.Join(t.TempDir(), "dl.ndjson")
		s := openSink(t, url, func(c *Config) { c.DeadLetter = dl })
		docs := forwardtest.Docs(6, "p")
		err := s.Write(t.Context(), docs)
		if failed := sink.FailedIndices(err, len(docs)); len(failed) != 1 || failed[0] != 4 {
			t.Fatalf("%d: handed back %v (err %v), want [4]", status, failed, err)
		}
		if s.Unavailable() == nil || forwardtest.TargetUnavailable(t, s.Name()) != 1 {
			t.Errorf("%d: the sink does not say its target refuses it", status)
		}
		dead := forwardtest.DeadLetters(t, dl)
		if len(dead) != 1 {
			t.Fatalf("%d: %d dead letters, want 1 (the mapping error)", status, len(dead))
		}
		refuse.Store(false)
		if err := s.Write(t.Context(), docs[4:5]); err != nil || s.Unavailable() != nil {
			t.Fatalf("%d: after the grant was fixed: err %v, unavailable %v", status, err, s.Unavailable())
		}
		if got := esHosts(t, es); len(got) != 5 {
			t.Errorf("%d: %d documents stored, want 5: %v", status, len(got), got)
		}
	}
}
