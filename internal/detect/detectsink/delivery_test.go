package detectsink_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/detectsink"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/sink"
)

// The suite's records are process creations running `cmd /c whoami`, one
// per host, so this rule makes one alert per record (alerts group by rule
// and host), and an alert's count says how often its record was
// evaluated: the alert file (fsynced with the store before the batch is
// acknowledged) stands for the sink's "stored documents", since the store
// cannot be read while the service under test has it open.
const suiteRule = `title: Whoami
id: 3e0f1a2b-0000-4000-8000-00000000beef
logsource: {product: windows, category: process_creation}
detection: {sel: {CommandLine|contains: whoami}, condition: sel}
level: low
`

func suiteDirs(t *testing.T, dir string) (rules, alertFile string) {
	rules = filepath.Join(dir, "rules")
	if err := os.MkdirAll(rules, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rules, "whoami.yml"), []byte(suiteRule), 0o640); err != nil {
		t.Fatal(err)
	}
	return rules, filepath.Join(dir, "alerts", "alerts.ndjson")
}

func TestDelivery(t *testing.T) {
	deliverytest.RunSinkSuite(t, deliverytest.SinkHarness{
		Entry: func(t *testing.T, dir string) map[string]any {
			rules, file := suiteDirs(t, dir)
			return map[string]any{"name": "under-test", "type": "detection", "file": file, "store": filepath.Join(dir, "store"),
				"rules": map[string]any{"dirs": []string{rules}, "no_builtin": true}}
		},
		Open: func(t *testing.T, dir string) sink.Sink {
			rules, file := suiteDirs(t, dir)
			cfg := *detectsink.DefaultConfig()
			cfg.Rules.Dirs, cfg.Rules.NoBuiltin, cfg.File, cfg.Store = []string{rules}, true, file, filepath.Join(dir, "store")
			s, err := detectsink.Open("under-test", cfg, sink.Env{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		// One {"host":{"name":H}} per evaluation of H's record.
		Read: func(t *testing.T, dir string) [][]byte {
			as, err := detectsink.ReadAlerts(filepath.Join(dir, "alerts", "alerts.ndjson"), time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			var out [][]byte
			for _, a := range as {
				doc := fmt.Appendf(nil, `{"host":{"name":%q}}`, a.Host)
				for range a.Count {
					out = append(out, bytes.Clone(doc))
				}
			}
			return out
		},
		// The alert file is written after the store: a kill between
		// the two leaves evaluations in the store that the file does
		// not show yet.
		ReadLagsOneWrite: true,
	})
}
