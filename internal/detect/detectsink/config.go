package detectsink

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
	"github.com/defender-intake/defender-intake/internal/detect/detector"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/store"
)

// Config is the `type: detection` sink section. Its keys are those of the
// detector's configuration (rules, alerts, webhook, file: see
// docs/detection.md), so the section and `rules test` share one meaning,
// plus where alerts are stored and the correlation windows kept across
// restarts.
type Config struct {
	detector.Config `yaml:",inline"`
	// Store is the data directory of the embedded store the alerts are
	// kept in (its `alerts` table): the store sink's `dir` when both are
	// configured, so one database holds the events and their alerts.
	// Default: the store's default directory.
	Store string `yaml:"store"`
	// File, optional here (the inlined detector key), also appends every
	// alert change to an NDJSON file, fsynced with the store before a
	// batch is acknowledged: an export or audit copy. An alert file of an
	// earlier version, when the store holds no alert yet, is imported.
	//
	// StateFile keeps the open correlation windows across a restart
	// (written at Close, read at start). Default: the alert file's path
	// with ".state.json" appended, or without an alert file
	// STORE/detection-NAME.state.json.
	StateFile string `yaml:"state_file"`
	// CompactMB rewrites the alert file with only the current state of
	// each alert once it has grown to this size (and then again each time
	// it doubles); 0 never compacts.
	CompactMB int `yaml:"compact_mb"`
}

// DefaultConfig holds the defaults of the section: the detector's
// defaults (built-in rules, default grouping, no webhook), the store's
// default directory, no alert file.
func DefaultConfig() *Config {
	return &Config{Config: detector.Defaults(), Store: store.DefaultConfig().Dir, CompactMB: 64}
}

// Validate implements sink.Section; it does not change c.
func (c *Config) Validate() error {
	var errs []error
	if c.Store == "" {
		// The store is what makes an acknowledged batch's alerts durable
		// and readable (GET /api/alerts); a webhook alone is best effort.
		errs = append(errs, errors.New("store: required (the data directory of the store alerts are kept in)"))
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

// statePath is where the correlation windows of the sink called name are
// saved.
func (c *Config) statePath(name string) string {
	switch {
	case c.StateFile != "":
		return c.StateFile
	case c.File != "":
		return c.File + ".state.json"
	}
	return filepath.Join(c.Store, "detection-"+name+".state.json")
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
