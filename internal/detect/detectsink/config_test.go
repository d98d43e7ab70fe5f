package detectsink_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/detect/detectsink"
	_ "github.com/defender-intake/defender-intake/internal/source/file"
)

// The section goes through the service's strict loader: the detector's
// keys, durations, and unknown keys named with file and line.
func TestConfigThroughStrictLoader(t *testing.T) {
	const head = "dead_letter: {path: dl.ndjson}\nsources:\n  - {name: in, type: file, paths: [in.ndjson]}\nsinks:\n"
	tests := []struct {
		name    string
		sink    string
		wantErr string // "" = valid
	}{
		{"full", `  - name: detect
    type: detection
    rules: {dirs: [rules], no_builtin: true, field_maps: [m.yml], placeholders: {admins: ['CORP\adm-*']}}
    alerts: {window: 30m, group_window: 12h, max_open: 500, max_event_ids: 10}
    webhook: {url: "https://example.com/hook", token_env: HOOK_TOKEN}
    file: data/alerts.ndjson
    state_file: data/detect.state
    compact_mb: 16
`, ""},
		{"defaults", "  - {name: d, type: detection, file: a.ndjson}\n", ""},
		{"unknown key", "  - name: d\n    type: detection\n    file: a.ndjson\n    rule: [x]\n", `test.yaml:8: unknown key "rule"`},
		{"unknown nested key", "  - name: d\n    type: detection\n    file: a.ndjson\n    alerts: {windw: 1h}\n", `test.yaml:8: unknown key "windw"`},
		{"file optional", "  - {name: d, type: detection}\n", ""},
		{"store required", "  - {name: d, type: detection, store: ''}\n", "store: required"},
		{"bad grouping", "  - {name: d, type: detection, file: a.ndjson, alerts: {max_open: -1}}\n", "max_open"},
		{"negative compact_mb", "  - {name: d, type: detection, file: a.ndjson, compact_mb: -1}\n", "compact_mb: must be >= 0"},
		{"state beside itself", "  - {name: d, type: detection, file: a.ndjson, state_file: ./a.ndjson}\n", "state_file: must differ"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse("test.yaml", []byte(head+tc.sink))
			if err == nil {
				err = cfg.Validate()
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if tc.name == "full" {
				c := cfg.Sinks[0].Section.(*detectsink.Config)
				if c.Alerts.Window != 30*time.Minute || c.Alerts.MaxEventIDs != 10 || !c.Rules.NoBuiltin ||
					c.Rules.Placeholders["admins"][0] != `CORP\adm-*` || c.Webhook == nil || c.StateFile != filepath.Join("data", "detect.state") || c.CompactMB != 16 {
					t.Errorf("decoded %+v", c)
				}
			}
		})
	}
}
