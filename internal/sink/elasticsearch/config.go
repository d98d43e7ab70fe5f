package elasticsearch

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/sink/forward"
)

// Config is the `type: elasticsearch` sink section (Elasticsearch 8 and
// OpenSearch 2 alike).
type Config struct {
	// URL is the cluster's base URL, e.g. https://es.example:9200.
	URL string `yaml:"url"`
	// APIKey is the encoded API key (the "encoded" value Elasticsearch
	// returns); or Username and Password for basic auth.
	APIKey   config.Secret `yaml:"api_key"`
	Username string        `yaml:"username"`
	Password config.Secret `yaml:"password"`
	// Namespace ends the data stream names:
	// logs-defender.<dataset>-<namespace>.
	Namespace string `yaml:"namespace"`
	// Setup installs the index template (ECS mappings of our documents)
	// for logs-defender.*-* at start.
	Setup bool `yaml:"setup"`
	// MaxBatchDocs and MaxBatchBytes bound one _bulk request.
	MaxBatchDocs  int         `yaml:"max_batch_docs"`
	MaxBatchBytes int         `yaml:"max_batch_bytes"`
	TLS           forward.TLS `yaml:"tls"`

	forward.Delivery `yaml:",inline"`
}

// DefaultConfig holds the defaults of the section.
func DefaultConfig() *Config {
	return &Config{Namespace: "default", Setup: true, MaxBatchDocs: 2000, MaxBatchBytes: 8 << 20, Delivery: forward.DefaultDelivery()}
}

// namespaceRE is what Elasticsearch accepts in a data stream namespace.
var namespaceRE = regexp.MustCompile(`^[a-z0-9_.]{1,100}$`)

// Validate implements sink.Section.
func (c *Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("url: %q is not an http(s) URL", c.URL))
	}
	if c.APIKey.IsSet() && (c.Username != "" || c.Password.IsSet()) {
		errs = append(errs, errors.New("api_key and username/password: give one"))
	}
	if (c.Username == "") != !c.Password.IsSet() {
		errs = append(errs, errors.New("username and password: give both"))
	}
	if !namespaceRE.MatchString(c.Namespace) {
		errs = append(errs, fmt.Errorf("namespace: %q must be lowercase letters, digits, _ or .", c.Namespace))
	}
	if c.MaxBatchDocs < 1 {
		errs = append(errs, errors.New("max_batch_docs: must be >= 1"))
	}
	if c.MaxBatchBytes < 1024 {
		errs = append(errs, errors.New("max_batch_bytes: must be >= 1024"))
	}
	errs = append(errs, c.TLS.Validate(), c.Delivery.Validate())
	return errors.Join(errs...)
}
