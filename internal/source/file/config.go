package file

import (
	"errors"
	"path/filepath"
	"time"
)

// Config is the `type: file` source section.
type Config struct {
	// Paths are files or glob patterns holding NDJSON records or
	// envelopes, JSON arrays, or pretty-printed JSON (see envelope).
	Paths []string `yaml:"paths"`
	// Follow keeps reading files as they grow (and picks up new files
	// matching the patterns), like tail -F; without it the source ends
	// at the end of the files.
	Follow bool `yaml:"follow"`
	// PollInterval is how often a followed file is checked for new data.
	PollInterval time.Duration `yaml:"poll_interval"`
	// BatchRecords is the number of records per batch.
	BatchRecords int `yaml:"batch_records"`
	// StatePath stores how far each file was delivered, so a restart
	// resumes there. Empty: every start reads the files from the top.
	StatePath string `yaml:"state_path"`
	// CheckpointInterval is the shortest time between two saves of the
	// delivered position: a save follows each acknowledgement, and those
	// of one interval are saved together. After a crash, what was
	// acknowledged in about one interval is read again.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	// IncompleteTimeout is how long, while following, an unfinished value
	// at the end of a file (a line not yet complete, an envelope not yet
	// closed) waits for the writer to finish it. After that it is
	// dead-lettered with its raw bytes and logged, so that a writer that
	// died mid-line does not hold the file back in silence; what the
	// writer adds later is read as new input.
	IncompleteTimeout time.Duration `yaml:"incomplete_timeout"`
}

// DefaultConfig holds the section's defaults.
func DefaultConfig() *Config {
	return &Config{PollInterval: time.Second, BatchRecords: 500, CheckpointInterval: 50 * time.Millisecond, IncompleteTimeout: 30 * time.Second}
}

// Validate implements source.Section.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Paths) == 0 {
		errs = append(errs, errors.New("paths: at least one file or pattern is required"))
	}
	for _, p := range c.Paths {
		if _, err := filepath.Match(p, ""); err != nil {
			errs = append(errs, errors.New("paths: bad pattern "+p))
		}
	}
	if c.PollInterval <= 0 || c.CheckpointInterval <= 0 {
		errs = append(errs, errors.New("poll_interval and checkpoint_interval must be > 0"))
	}
	if c.IncompleteTimeout <= 0 {
		errs = append(errs, errors.New("incomplete_timeout: must be > 0"))
	}
	if c.BatchRecords < 1 {
		errs = append(errs, errors.New("batch_records: must be >= 1"))
	}
	return errors.Join(errs...)
}
