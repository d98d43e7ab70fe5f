package capture

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/defender-intake/defender-intake/internal/config"
)

// Config is the `type: capture` source section: where the Avro files of
// Event Hubs Capture are, and where the backfill remembers its progress.
type Config struct {
	// Path is a local directory, read recursively for *.avro files
	// (e.g. a downloaded copy of the Capture container).
	Path string `yaml:"path"`
	// StorageConnectionString ("${CAPTURE_STORAGE_CONNECTION_STRING}") or
	// StorageAccountURL (https://ACCOUNT.blob.core.windows.net, with
	// Azure's default credential chain) name the storage account of
	// Capture; Container is its container and Prefix narrows the blobs
	// read (e.g. "NAMESPACE/HUB/" or "NAMESPACE/HUB/0/2026/11/").
	StorageConnectionString config.Secret `yaml:"storage_connection_string"`
	StorageAccountURL       string        `yaml:"storage_account_url"`
	Container               string        `yaml:"container"`
	Prefix                  string        `yaml:"prefix"`
	// StatePath holds the progress (finished files, records delivered of
	// the file being read); a restart resumes from it. Empty means
	// data/capture-<source name>.json.
	StatePath string `yaml:"state_path"`
	// BatchMessages is how many Capture events go in one pipeline batch.
	BatchMessages int `yaml:"batch_messages"`
	// CheckpointInterval is the shortest time between two saves of the
	// progress: a save follows each acknowledgement, and those of one
	// interval are saved together (what a crash makes read again).
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	// ProgressInterval is how often progress is logged.
	ProgressInterval time.Duration `yaml:"progress_interval"`
	// Follow keeps looking for new files every PollInterval instead of
	// ending when every file is read (Capture as a continuous source).
	Follow       bool          `yaml:"follow"`
	PollInterval time.Duration `yaml:"poll_interval"`
}

// DefaultConfig holds the defaults of the section.
func DefaultConfig() *Config {
	return &Config{BatchMessages: 100, CheckpointInterval: 50 * time.Millisecond, ProgressInterval: 10 * time.Second, PollInterval: 30 * time.Second}
}

// Validate implements source.Section.
func (c *Config) Validate() error {
	var errs []error
	blob := c.StorageConnectionString.IsSet() || c.StorageAccountURL != ""
	switch {
	case c.Path == "" && !blob:
		errs = append(errs, errors.New("path, or storage_connection_string / storage_account_url with container: one is required"))
	case c.Path != "" && blob:
		errs = append(errs, errors.New("path and storage_*: give one"))
	case c.StorageConnectionString.IsSet() && c.StorageAccountURL != "":
		errs = append(errs, errors.New("storage_connection_string and storage_account_url: give one"))
	}
	if c.StorageConnectionString.IsSet() {
		if err := config.CheckStorageConnectionString(c.StorageConnectionString.Value()); err != nil {
			errs = append(errs, fmt.Errorf("storage_connection_string: %w", err))
		}
	}
	if blob && c.Container == "" {
		errs = append(errs, errors.New("container: required with a storage account"))
	}
	if c.StorageAccountURL != "" {
		if u, err := url.Parse(c.StorageAccountURL); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("storage_account_url: %q is not an https URL", c.StorageAccountURL))
		}
	}
	if c.BatchMessages < 1 {
		errs = append(errs, errors.New("batch_messages: must be >= 1"))
	}
	if c.CheckpointInterval <= 0 || c.ProgressInterval <= 0 || c.PollInterval <= 0 {
		errs = append(errs, errors.New("checkpoint_interval, progress_interval and poll_interval: must be > 0"))
	}
	return errors.Join(errs...)
}
