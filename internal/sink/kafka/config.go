package kafka

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/sink/forward"
)

// Config is the `type: kafka` sink section.
type Config struct {
	Brokers []string `yaml:"brokers"`
	// Topic receives every document; when empty, each dataset goes to
	// TopicPrefix + dataset (e.g. defender.device_process_events).
	Topic       string `yaml:"topic"`
	TopicPrefix string `yaml:"topic_prefix"`
	// Key is the record key: "host" (host.name, so one host's events stay
	// in order on one partition), "dataset", or "none" (spread evenly).
	Key string `yaml:"key"`
	// Compression: none, gzip, snappy, lz4 or zstd.
	Compression string `yaml:"compression"`
	TLS         TLS    `yaml:"tls"`
	SASL        SASL   `yaml:"sasl"`

	forward.Delivery `yaml:",inline"`
}

// TLS configures encryption to the brokers.
type TLS struct {
	Enabled     bool `yaml:"enabled"`
	forward.TLS `yaml:",inline"`
}

// SASL configures authentication; Mechanism PLAIN, SCRAM-SHA-256 or
// SCRAM-SHA-512 (empty: none).
type SASL struct {
	Mechanism string        `yaml:"mechanism"`
	Username  string        `yaml:"username"`
	Password  config.Secret `yaml:"password"`
}

// DefaultConfig holds the defaults of the section.
func DefaultConfig() *Config {
	return &Config{TopicPrefix: "defender.", Key: "host", Compression: "snappy", Delivery: forward.DefaultDelivery()}
}

// Validate implements sink.Section.
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
	if c.Topic == "" && c.TopicPrefix == "" {
		errs = append(errs, errors.New("topic or topic_prefix: one is required"))
	}
	switch c.Key {
	case "host", "dataset", "none":
	default:
		errs = append(errs, fmt.Errorf("key: %q is not host, dataset or none", c.Key))
	}
	switch c.Compression {
	case "none", "gzip", "snappy", "lz4", "zstd":
	default:
		errs = append(errs, fmt.Errorf("compression: %q is not none, gzip, snappy, lz4 or zstd", c.Compression))
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
	if c.Timeout < time.Second {
		errs = append(errs, errors.New("timeout: must be >= 1s for Kafka"))
	}
	errs = append(errs, c.TLS.Validate(), c.Delivery.Validate())
	return errors.Join(errs...)
}
