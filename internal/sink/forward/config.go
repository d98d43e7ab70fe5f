// Package forward holds what the forwarding sinks (sekoia, splunk_hec,
// elasticsearch, clickhouse, kafka) share: the delivery keys every one of
// them accepts, an HTTP client with a custom CA, bounded retries that
// honour Retry-After, and the dead-letter file for documents a target
// refuses for good.
package forward

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/besteffort"
)

// Delivery are the keys shared by every forwarding sink section (inlined
// into each type's section).
type Delivery struct {
	// Timeout bounds one request to the target.
	Timeout time.Duration `yaml:"timeout"`
	// MaxAttempts is how many times one Write tries a retryable failure
	// (429, 5xx, network) before handing the documents back to the
	// pipeline, which retries them with its own backoff. Giving them back
	// keeps shutdown and metrics responsive while a target is down.
	MaxAttempts int `yaml:"max_attempts"`
	// DeadLetter is the file for documents the target refuses for good
	// (a 400 on that record, a mapping error). Empty means
	// data/dead-letter-<sink name>.ndjson.
	DeadLetter string `yaml:"dead_letter"`
	// BestEffort: this sink never holds the sources' checkpoints back; it
	// queues on disk while its target is down and drops (counted) what
	// does not fit.
	BestEffort bool              `yaml:"best_effort"`
	Buffer     besteffort.Config `yaml:"buffer"`
}

// DefaultDelivery holds the defaults of the shared keys.
func DefaultDelivery() Delivery {
	return Delivery{Timeout: 30 * time.Second, MaxAttempts: 5, Buffer: besteffort.DefaultConfig()}
}

// Validate checks the shared keys.
func (d Delivery) Validate() error {
	var errs []error
	if d.Timeout <= 0 {
		errs = append(errs, errors.New("timeout: must be > 0"))
	}
	if d.MaxAttempts < 1 {
		errs = append(errs, errors.New("max_attempts: must be >= 1"))
	}
	if d.BestEffort {
		if err := d.Buffer.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("buffer: %w", err))
		}
	}
	return errors.Join(errs...)
}

// DeadLetterPath is the dead-letter file of sink name.
func (d Delivery) DeadLetterPath(name string) string {
	if d.DeadLetter != "" {
		return d.DeadLetter
	}
	return "data/dead-letter-" + name + ".ndjson"
}

// Wrap returns s, or s behind a best-effort queue when configured.
func (d Delivery) Wrap(s sink.Sink) (sink.Sink, error) {
	if !d.BestEffort {
		return s, nil
	}
	cfg := d.Buffer
	if cfg.Dir == "" {
		cfg.Dir = "data/queue-" + s.Name()
	}
	return besteffort.Open(s, cfg)
}

// TLS configures the connection to an HTTPS target.
type TLS struct {
	// CAFile is a PEM bundle trusted in addition to the system's.
	CAFile string `yaml:"ca_file"`
	// InsecureSkipVerify disables certificate checks (tests only).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// Validate checks that the CA file is readable.
func (t TLS) Validate() error {
	if t.CAFile != "" {
		if _, err := os.Stat(t.CAFile); err != nil {
			return fmt.Errorf("tls.ca_file: %w", err)
		}
	}
	return nil
}

// Config returns the tls.Config, nil when the defaults apply.
func (t TLS) Config() (*tls.Config, error) {
	if t.CAFile == "" && !t.InsecureSkipVerify {
		return nil, nil
	}
	c := &tls.Config{InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // opt-in for tests
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read tls.ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file %s: no PEM certificate found", t.CAFile)
		}
		c.RootCAs = pool
	}
	return c, nil
}

// NewHTTPClient returns a client for one sink: its own connection pool,
// the TLS settings, and timeout per request. It does not follow
// redirects: a 301, 302 or 303 would be followed as a GET without the
// documents (its 200 taken for a delivery), and a 307 or 308 to another
// host would carry the documents and a key in the body there. The 3xx
// is returned, which the sinks treat as a refusal of the request.
func NewHTTPClient(t TLS, timeout time.Duration) (*http.Client, error) {
	tc, err := t.Config()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.MaxIdleConnsPerHost = 4
	return &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}, nil
}
