package elasticsearch

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

func openSink(t *testing.T, url string, edit func(*Config)) *Sink {
	t.Helper()
	c := DefaultConfig()
	c.URL, c.APIKey = url, config.NewSecret("a2V5")
	c.DeadLetter = filepath.Join(t.TempDir(), "dl.ndjson")
	c.Timeout, c.MaxAttempts = 2*time.Second, 3
	if edit != nil {
		edit(c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), "es-test", *c)
	if err != nil {
		t.Fatal(err)
	}
	s.retry.Initial = 5 * time.Millisecond
	t.Cleanup(func() { s.Close() })
	return s
}

func host(doc map[string]any) string {
	h, _ := doc["host"].(map[string]any)
	n, _ := h["name"].(string)
	return n
}

func TestWrite(t *testing.T) {
	var once atomic.Bool
	cases := []struct {
		name         string
		docs         int
		edit         func(*Config)
		reqFail      func(n int, w http.ResponseWriter) bool
		itemFail     func(doc map[string]any) (int, string)
		wantStored   int
		wantFailed   []int
		wantDead     []string
		wantRequests int
	}{
		{name: "all created", docs: 10, wantStored: 10, wantRequests: 1},
		{name: "batches by count", docs: 25, edit: func(c *Config) { c.MaxBatchDocs = 10 }, wantStored: 25, wantRequests: 3},
		{name: "429 for the whole request, then created", docs: 5, reqFail: func(n int, w http.ResponseWriter) bool {
			if n == 1 {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusTooManyRequests)
				fmt.Fprint(w, `{"error":{"type":"es_rejected_execution_exception"},"status":429}`)
				return true
			}
			return false
		}, wantStored: 5, wantRequests: 2},
		{name: "429 items handed back, the rest stored", docs: 6, itemFail: func(doc map[string]any) (int, string) {
			if h := host(doc); h == "d-1" || h == "d-4" {
				return 429, "es_rejected_execution_exception"
			}
			return 0, ""
		}, wantStored: 4, wantFailed: []int{1, 4}, wantRequests: 1},
		{name: "mapping error dead-lettered with the reason", docs: 6, itemFail: func(doc map[string]any) (int, string) {
			if host(doc) == "d-3" {
				return 400, "document_parsing_exception"
			}
			return 0, ""
		}, wantStored: 5, wantDead: []string{"d-3"}, wantRequests: 1},
		{name: "413 splits the request", docs: 8, reqFail: func(n int, w http.ResponseWriter) bool {
			if !once.Swap(true) {
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				return true
			}
			return false
		}, wantStored: 8, wantRequests: 3},
		// A closed index or a bad index name refuses every document sent
		// there with a 400: the index is at fault, not the documents.
		{name: "closed index: held, not dead-lettered", docs: 3, itemFail: func(doc map[string]any) (int, string) {
			return 400, "index_closed_exception"
		}, wantFailed: []int{0, 1, 2}, wantRequests: 1},
		{name: "invalid index name: held, not dead-lettered", docs: 2, itemFail: func(doc map[string]any) (int, string) {
			return 400, "invalid_index_name_exception"
		}, wantFailed: []int{0, 1}, wantRequests: 1},
		{name: "500 items handed back", docs: 3, itemFail: func(doc map[string]any) (int, string) {
			return 503, "unavailable_shards_exception"
		}, wantFailed: []int{0, 1, 2}, wantRequests: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeES("ApiKey a2V5")
			f.reqFail, f.itemFail = tc.reqFail, tc.itemFail
			srv := httptest.NewServer(f)
			defer srv.Close()
			s := openSink(t, srv.URL, tc.edit)
			docs := forwardtest.Docs(tc.docs, "d")
			err := s.Write(context.Background(), docs)
			failed := sink.FailedIndices(err, len(docs))
			if fmt.Sprint(failed) != fmt.Sprint(tc.wantFailed) && !(len(failed) == 0 && len(tc.wantFailed) == 0) {
				t.Errorf("failed %v, want %v (err %v)", failed, tc.wantFailed, err)
			}
			stored, requests, bad := f.all()
			if len(bad) > 0 {
				t.Fatalf("format problems: %v", bad)
			}
			if len(stored) != tc.wantStored || requests != tc.wantRequests {
				t.Errorf("%d stored in %d bulk requests, want %d in %d", len(stored), requests, tc.wantStored, tc.wantRequests)
			}
			var dead []string
			for _, e := range forwardtest.DeadLetters(t, s.cfg.DeadLetter) {
				if !strings.Contains(e["reason"].(string), "document_parsing_exception: failed to parse field [source.ip]") {
					t.Errorf("dead-letter reason %q lacks Elasticsearch's", e["reason"])
				}
				var raw struct{ Properties struct{ DeviceName string } }
				json.Unmarshal([]byte(e["raw"].(string)), &raw)
				dead = append(dead, raw.Properties.DeviceName)
			}
			if strings.Join(dead, ",") != strings.Join(tc.wantDead, ",") {
				t.Errorf("dead-lettered %v, want %v", dead, tc.wantDead)
			}
			if _, ok := f.stored["logs-defender.device_process_events-default"]; tc.wantStored > 0 && !ok {
				t.Errorf("nothing in data stream logs-defender.device_process_events-default: %v", f.stored)
			}
		})
	}
}

func TestSetupInstallsTemplate(t *testing.T) {
	f := newFakeES("ApiKey a2V5")
	srv := httptest.NewServer(f)
	defer srv.Close()
	openSink(t, srv.URL, nil)
	tmpl := f.templates[templateName]
	if tmpl == nil {
		t.Fatal("no index template installed")
	}
	b, _ := json.Marshal(tmpl)
	for _, want := range []string{`"index_patterns":["logs-defender.*-*"]`, `"data_stream":{}`, `"ip":{"type":"ip"}`, `"@timestamp":{"type":"date"}`, `"port":{"type":"long"}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("template lacks %s: %s", want, b)
		}
	}
	f2 := newFakeES("ApiKey a2V5")
	srv2 := httptest.NewServer(f2)
	defer srv2.Close()
	openSink(t, srv2.URL, func(c *Config) { c.Setup = false })
	if len(f2.templates) != 0 {
		t.Error("setup: false installed a template")
	}
}

func TestAuthAndCustomCA(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"api key", func(c *Config) {}, "ApiKey a2V5"},
		{"basic", func(c *Config) {
			c.APIKey, c.Username, c.Password = config.Secret{}, "elastic", config.NewSecret("changeme")
		}, "Basic " + base64.StdEncoding.EncodeToString([]byte("elastic:changeme"))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeES(tc.want)
			srv := httptest.NewTLSServer(f)
			defer srv.Close()
			ca := filepath.Join(t.TempDir(), "ca.pem")
			pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
			if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
				t.Fatal(err)
			}
			s := openSink(t, srv.URL, func(c *Config) { tc.edit(c); c.TLS.CAFile = ca })
			if err := s.Write(context.Background(), forwardtest.Docs(3, "tls")); err != nil {
				t.Fatal(err)
			}
			if stored, _, bad := f.all(); len(stored) != 3 || len(bad) > 0 {
				t.Errorf("%d stored, problems %v", len(stored), bad)
			}
		})
	}
	// Without the CA the server's certificate is not trusted.
	srv := httptest.NewTLSServer(newFakeES("ApiKey a2V5"))
	defer srv.Close()
	c := DefaultConfig()
	c.URL, c.APIKey, c.MaxAttempts, c.DeadLetter = srv.URL, config.NewSecret("a2V5"), 1, filepath.Join(t.TempDir(), "dl")
	// Open does not fail (the first Writes install the template), the
	// documents are held: a certificate error is a target outage.
	s, err := Open(context.Background(), "es", *c)
	if err != nil {
		t.Fatalf("Open without the CA: %v", err)
	}
	defer s.Close()
	docs := forwardtest.Docs(3, "tls")
	err = s.Write(context.Background(), docs)
	if f := sink.FailedIndices(err, len(docs)); len(f) != len(docs) || !strings.Contains(fmt.Sprint(err), "certificate") || !errors.Is(err, sink.ErrTargetUnavailable) {
		t.Errorf("Write without the CA = %v, want all handed back for the certificate, the target unavailable", err)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"ok", func(c *Config) {}, ""},
		{"no url", func(c *Config) { c.URL = "" }, "url"},
		{"both auths", func(c *Config) { c.Username, c.Password = "u", config.NewSecret("p") }, "give one"},
		{"user without password", func(c *Config) { c.APIKey, c.Username = config.Secret{}, "u" }, "give both"},
		{"bad namespace", func(c *Config) { c.Namespace = "Prod-1" }, "namespace"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.URL, c.APIKey = "https://es:9200", config.NewSecret("k")
			tc.edit(c)
			err := c.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want an error about %q", err, tc.want)
			}
		})
	}
}
