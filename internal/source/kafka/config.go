package kafka

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/defender-intake/defender-intake/internal/config"
)

// Config is the `type: kafka` source section. For the Event Hubs Kafka
// endpoint: brokers [NAMESPACE.servicebus.windows.net:9093], topics [hub
// name], tls.enabled true, sasl.mechanism PLAIN, sasl.username
// "$ConnectionString", sasl.password the hub connection string.
type Config struct {
	Brokers []string `yaml:"brokers"`
	Topics  []string `yaml:"topics"`
	// Group is the consumer group; instances with the same group share
	// the partitions.
	Group string `yaml:"group"`
	// StartPosition applies when the group has no committed offset:
	// earliest or latest.
	StartPosition string `yaml:"start_position"`
	// MaxBatchMessages bounds the messages of one batch (one partition);
	// a batch also ends at pipeline.MaxBatchBytes.
	MaxBatchMessages int `yaml:"max_batch_messages"`
	// FetchMaxMB bounds what the client fetches ahead of the pipeline, in
	// compressed bytes: Defender JSON compresses about tenfold, so 4 MB
	// fetched can hold 40 MB of records in memory.
	FetchMaxMB int `yaml:"fetch_max_mb"`
	// CommitInterval is the shortest time between two commits of the
	// delivered offsets: a commit follows each acknowledgement, and those
	// of one interval are committed together (what a crash makes read
	// again); also on rebalance and shutdown.
	CommitInterval time.Duration `yaml:"commit_interval"`
	// SessionTimeout is how long the group waits for a member that went
	// silent (a killed instance) before giving its partitions to others.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	TLS            TLS           `yaml:"tls"`
	SASL           SASL          `yaml:"sasl"`
}

// TLS configures encryption to the brokers.
type TLS struct {
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle to trust instead of the system roots.
	CAFile             string `yaml:"ca_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// SASL configures authentication.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty: none.
	Mechanism string        `yaml:"mechanism"`
	Username  string        `yaml:"username"`
	Password  config.Secret `yaml:"password"`
}

// DefaultConfig holds the section's defaults.
func DefaultConfig() *Config {
	return &Config{Group: "defender-intake", StartPosition: "earliest", MaxBatchMessages: 100, FetchMaxMB: 4, CommitInterval: 50 * time.Millisecond, SessionTimeout: 45 * time.Second}
}

// Validate implements source.Section.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("brokers: at least one host:port is required"))
	}
	for i, b := range c.Brokers {
		if err := config.CheckDial(b); err != nil {
			errs = append(errs, fmt.Errorf("brokers[%d]: %w", i, err))
		}
	}
	if len(c.Topics) == 0 {
		errs = append(errs, errors.New("topics: at least one is required (for Event Hubs: the hub name)"))
	}
	if c.Group == "" {
		errs = append(errs, errors.New("group: required"))
	}
	if c.StartPosition != "earliest" && c.StartPosition != "latest" {
		errs = append(errs, fmt.Errorf("start_position: %q is not earliest or latest", c.StartPosition))
	}
	if c.MaxBatchMessages < 1 || c.FetchMaxMB < 1 || c.CommitInterval <= 0 || c.SessionTimeout <= 0 {
		errs = append(errs, errors.New("max_batch_messages >= 1, fetch_max_mb >= 1, commit_interval > 0 and session_timeout > 0 are required"))
	}
	switch strings.ToUpper(c.SASL.Mechanism) {
	case "":
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if c.SASL.Username == "" || !c.SASL.Password.IsSet() {
			errs = append(errs, errors.New("sasl: username and password are required"))
		}
	default:
		errs = append(errs, fmt.Errorf("sasl.mechanism: %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASL.Mechanism))
	}
	if c.SASL.Mechanism != "" && !c.TLS.Enabled && strings.Contains(strings.Join(c.Brokers, ","), ".servicebus.") {
		errs = append(errs, errors.New("tls.enabled: Event Hubs requires TLS"))
	}
	return errors.Join(errs...)
}
