package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// WebhookConfig configures the webhook output: a JSON POST per new alert
// ({"change":"created","alert":{...}}).
type WebhookConfig struct {
	URL string `yaml:"url"`
	// TokenEnv names an environment variable, TokenFile a file, holding a
	// bearer token sent as "Authorization: Bearer ..." (never logged).
	TokenEnv  string `yaml:"token_env"`
	TokenFile string `yaml:"token_file"`
	// Updates also posts every update of an alert, not only new ones.
	Updates bool          `yaml:"updates"`
	Timeout time.Duration `yaml:"timeout"`
	// Attempts is how many times a failed POST is tried in all.
	Attempts int `yaml:"attempts"`
}

// WebhookDefaults returns the defaults (everything but the URL).
func WebhookDefaults() WebhookConfig {
	return WebhookConfig{Timeout: 10 * time.Second, Attempts: 3}
}

// Validate reports invalid settings without changing them.
func (c WebhookConfig) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("alerts webhook: url %q must be an http(s) URL", c.URL)
	}
	if c.TokenEnv != "" && c.TokenFile != "" {
		return errors.New("alerts webhook: set token_env or token_file, not both")
	}
	if c.Timeout < 0 || c.Attempts < 0 {
		return errors.New("alerts webhook: timeout and attempts must not be negative")
	}
	return nil
}

// Webhook is an AlertSink posting alerts to an HTTP endpoint.
type Webhook struct {
	cfg    WebhookConfig
	token  string
	client *http.Client
	// backoff between attempts; a field so tests can shorten it.
	backoff time.Duration
}

// NewWebhook validates cfg and reads the token.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	d := WebhookDefaults()
	if cfg.Timeout == 0 {
		cfg.Timeout = d.Timeout
	}
	if cfg.Attempts == 0 {
		cfg.Attempts = d.Attempts
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := &Webhook{cfg: cfg, client: &http.Client{Timeout: cfg.Timeout}, backoff: time.Second}
	switch {
	case cfg.TokenEnv != "":
		w.token = os.Getenv(cfg.TokenEnv)
		if w.token == "" {
			return nil, fmt.Errorf("alerts webhook: environment variable %s is empty", cfg.TokenEnv)
		}
	case cfg.TokenFile != "":
		b, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("alerts webhook: reading token file: %w", err)
		}
		w.token = strings.TrimSpace(string(b))
	}
	return w, nil
}

// WriteAlert implements AlertSink: new alerts (and updates when
// configured) are POSTed; other changes return nil at once. A 2xx answer
// is a delivery; anything else is retried up to Attempts times.
func (w *Webhook) WriteAlert(ctx context.Context, a Alert, change Change) error {
	if change != Created && !w.cfg.Updates {
		return nil
	}
	body, err := json.Marshal(struct {
		Change string `json:"change"`
		Alert  Alert  `json:"alert"`
	}{change.String(), a})
	if err != nil {
		return fmt.Errorf("alerts webhook: encoding alert %s: %w", a.ID, err)
	}
	var last error
	for attempt := 0; attempt < w.cfg.Attempts; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("alerts webhook: alert %s: %w (last error: %v)", a.ID, ctx.Err(), last)
			case <-time.After(w.backoff * time.Duration(attempt)):
			}
		}
		if last = w.post(ctx, body); last == nil {
			return nil
		}
	}
	return fmt.Errorf("alerts webhook: alert %s not delivered after %d attempts: %w", a.ID, w.cfg.Attempts, last)
}

func (w *Webhook) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "defender-intake")
	if w.token != "" {
		req.Header.Set("Authorization", "Bearer "+w.token)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	return nil
}
