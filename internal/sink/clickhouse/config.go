package clickhouse

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/sink/forward"
)

// Config is the `type: clickhouse` sink section.
type Config struct {
	// URL is the HTTP interface, e.g. http://127.0.0.1:8123.
	URL string `yaml:"url"`
	// Database and Table receive the rows; both are created at start
	// when missing.
	Database string        `yaml:"database"`
	Table    string        `yaml:"table"`
	Username string        `yaml:"username"`
	Password config.Secret `yaml:"password"`
	// MaxBatchRows bounds one INSERT. ClickHouse wants few large inserts:
	// each is a part on disk, merged later.
	MaxBatchRows int         `yaml:"max_batch_rows"`
	TLS          forward.TLS `yaml:"tls"`

	forward.Delivery `yaml:",inline"`
}

// DefaultConfig holds the defaults of the section.
func DefaultConfig() *Config {
	return &Config{URL: "http://127.0.0.1:8123", Database: "default", Table: "defender_events", Username: "default",
		MaxBatchRows: 100000, Delivery: forward.DefaultDelivery()}
}

// identRE is what the sink accepts as a database or table name, so that
// names can be quoted into SQL safely.
var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// Validate implements sink.Section.
func (c *Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("url: %q is not an http(s) URL", c.URL))
	}
	if !identRE.MatchString(c.Database) {
		errs = append(errs, fmt.Errorf("database: %q must be letters, digits and _", c.Database))
	}
	if !identRE.MatchString(c.Table) {
		errs = append(errs, fmt.Errorf("table: %q must be letters, digits and _", c.Table))
	}
	if c.MaxBatchRows < 1 {
		errs = append(errs, errors.New("max_batch_rows: must be >= 1"))
	}
	errs = append(errs, c.TLS.Validate(), c.Delivery.Validate())
	return errors.Join(errs...)
}
