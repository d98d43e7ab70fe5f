package sekoia

import (
	"os"
	"strings"
	"testing"

	"github.com/defender-intake/defender-intake/internal/config"
)

// The section decodes strictly through the service's config loader,
// shared delivery keys (inlined) included, and the key stays secret.
func TestConfigFromYAML(t *testing.T) {
	os.Setenv("TEST_SEKOIA_KEY", "k-from-env")
	defer os.Unsetenv("TEST_SEKOIA_KEY")
	base := "sources:\n  - {name: in, type: file, paths: [x.json]}\nsinks:\n  - name: soc\n    type: sekoia\n    intake_key: ${TEST_SEKOIA_KEY}\n"
	cases := []struct {
		name  string
		extra string
		want  string // error substring, "" for success
		check func(t *testing.T, c *Config)
	}{
		{"defaults", "", "", func(t *testing.T, c *Config) {
			if c.IntakeServer != "https://intake.sekoia.io" || c.IntakeKey.Value() != "k-from-env" || c.BestEffort {
				t.Errorf("section %+v", c)
			}
			if strings.Contains(c.IntakeKey.String(), "k-from-env") {
				t.Error("the key prints")
			}
		}},
		{"best effort with a buffer", "    best_effort: true\n    buffer: {max_mb: 64, dir: /tmp/q}\n    max_attempts: 2\n", "", func(t *testing.T, c *Config) {
			if !c.BestEffort || c.Buffer.MaxMB != 64 || c.Buffer.Dir != "/tmp/q" || c.Buffer.BatchDocs != 1000 || c.MaxAttempts != 2 {
				t.Errorf("section %+v", c)
			}
		}},
		{"unknown key", "    intake_keyy: x\n", "intake_keyy", nil},
		{"unknown buffer key", "    buffer: {size: 1}\n", "size", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse("test.yaml", []byte(base+tc.extra))
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "test.yaml:") {
					t.Fatalf("Parse() = %v, want an error naming file, line and %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, cfg.Sinks[0].Section.(*Config))
		})
	}
}
