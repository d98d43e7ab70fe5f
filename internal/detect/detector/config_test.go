package detector

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
	"github.com/defender-intake/defender-intake/internal/detect/rules"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Defaults(), true},
		{"negative window", Config{Alerts: alerts.Config{Window: -time.Second}}, false},
		{"bad webhook", Config{Webhook: &alerts.WebhookConfig{URL: "nope"}}, false},
		{"empty placeholder", Config{Rules: rules.Config{Placeholders: map[string][]string{"": {"x"}}}}, false},
	}
	for _, c := range cases {
		before := c.cfg
		err := c.cfg.Validate()
		if (err == nil) != c.ok {
			t.Errorf("%s: Validate() = %v", c.name, err)
		}
		if before.Webhook != c.cfg.Webhook || before.Alerts != c.cfg.Alerts {
			t.Errorf("%s: Validate changed the config", c.name)
		}
	}
}

// TestNewWebhookAndReload wires detection from its configuration: a rule
// directory and a webhook receiving the new alert; then a rule added on
// disk is picked up by ReloadRules.
func TestNewWebhookAndReload(t *testing.T) {
	var mu sync.Mutex
	var posted []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var v map[string]any
		json.Unmarshal(b, &v)
		mu.Lock()
		posted = append(posted, v)
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := Defaults()
	cfg.Rules.Dirs = []string{dir}
	cfg.Webhook = &alerts.WebhookConfig{URL: srv.URL}
	cfg.File = filepath.Join(t.TempDir(), "alerts.ndjson")
	s, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	w := s.NewWorker()
	if got, _ := w.Process(context.Background(), []byte(proc), nil, "e1", time.Now()); len(got) != 0 {
		t.Fatalf("matched %d before the rule exists", len(got))
	}
	if err := os.WriteFile(filepath.Join(dir, "whoami.yml"), []byte(whoamiRule), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.ReloadRules(); err != nil {
		t.Fatal(err)
	}
	if got, err := w.Process(context.Background(), []byte(proc), nil, "e2", time.Now()); err != nil || len(got) != 1 {
		t.Fatalf("after reload: %d matches, %v", len(got), err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(cfg.File); err != nil || !strings.Contains(string(data), `"rule_title":"Whoami all"`) {
		t.Fatalf("alerts file %q (%v)", data, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posted) != 1 || posted[0]["alert"].(map[string]any)["rule_title"] != "Whoami all" {
		t.Fatalf("webhook got %v", posted)
	}
	// A broken rule directory keeps the current rules.
	os.RemoveAll(dir)
	if err := s.ReloadRules(); err == nil {
		t.Fatal("reload of a missing directory succeeded")
	}
	if len(s.Engine().Rules()) == 0 {
		t.Fatal("failed reload dropped the rules")
	}
}

func TestConfigYAML(t *testing.T) {
	src := `
rules:
  dirs: [/etc/defender-intake/rules]
  field_maps: [extra.yml]
  placeholders_file: placeholders.yml
alerts:
  window: 30m
  max_open: 500
webhook:
  url: https://hooks.example.com/x
  token_env: HOOK_TOKEN
`
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	cfg := Defaults()
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Alerts.Window != 30*time.Minute || cfg.Alerts.MaxOpen != 500 || cfg.Alerts.GroupWindow != 24*time.Hour ||
		cfg.Webhook.TokenEnv != "HOOK_TOKEN" || cfg.Rules.Dirs[0] != "/etc/defender-intake/rules" {
		t.Fatalf("decoded %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := yaml.NewDecoder(strings.NewReader("alerts:\n  windw: 5m\n"))
	bad.KnownFields(true)
	if err := bad.Decode(&cfg); err == nil || !strings.Contains(err.Error(), "windw") {
		t.Fatalf("unknown key: %v", err)
	}
}
