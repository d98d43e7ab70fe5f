package detectsink

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
	"github.com/defender-intake/defender-intake/internal/detect/detector"
	"github.com/defender-intake/defender-intake/internal/sink"
)

// Config is the `type: detection` sink section. Its keys are those of the
// detector's configuration (rules, alerts, webhook, file: see
// docs/detection.md), so the section and `rules test` share one meaning,
// plus where the correlation windows are kept across restarts.
type Config struct {
	detector.Config `yaml:",inline"`
	// StateFile keeps the open correlation windows across a restart
	// (written at Close, read at start). Default: the alert file's path
	// with ".state.json" appended.
	StateFile string `yaml:"state_file"`
	// CompactMB rewrites the alert file with only the current state of
	// each alert once it has grown to this size (and then again each time
	// it doubles); 0 never compacts.
	CompactMB int `yaml:"compact_mb"`
}

// DefaultConfig holds the defaults of the section: the detector's
// defaults (built-in rules, default grouping, no webhook).
func DefaultConfig() *Config { return &Config{Config: detector.Defaults(), CompactMB: 64} }

// Validate implements sink.Section; it does not change c.
func (c *Config) Validate() error {
	var errs []error
	if c.File == "" {
		// The alert file is what makes an acknowledged batch's alerts
		// durable; a webhook alone is best effort.
		errs = append(errs, errors.New("file: required (the NDJSON file alerts are written to)"))
	}
	if err := c.Config.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.CompactMB < 0 {
		errs = append(errs, errors.New("compact_mb: must be >= 0"))
	}
	if c.StateFile != "" && c.File != "" && filepath.Clean(c.StateFile) == filepath.Clean(c.File) {
		errs = append(errs, fmt.Errorf("state_file: must differ from file (%s)", c.File))
	}
	return errors.Join(errs...)
}

// statePath is where correlation windows are saved.
func (c *Config) statePath() string {
	if c.StateFile != "" {
		return c.StateFile
	}
	return c.File + ".state.json"
}

// restoreWindow is how far back (from the newest alert in the file) an
// alert can still be updated by a new match, so restoring older ones is
// pointless.
func restoreWindow(a alerts.Config) time.Duration {
	return max(a.Window, a.GroupWindow)
}

func init() {
	sink.Register("detection", sink.Factory{
		NewSection: func() sink.Section { return DefaultConfig() },
		OpenEnv: func(name string, s sink.Section, env sink.Env) (sink.Sink, error) {
			return Open(name, *s.(*Config), env)
		},
	})
}
