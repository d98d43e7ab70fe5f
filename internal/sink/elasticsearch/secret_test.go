package elasticsearch

import (
	"path/filepath"
	"testing"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

// A cluster (or a proxy) that repeats the refused request in its answer,
// Authorization header included, does not get the API key or the
// password into the dead letters, the log or the error.
func TestSecretsNotRepeated(t *testing.T) {
	t.Run("api_key", func(t *testing.T) {
		forwardtest.SecretsNotRepeated(t, func(t *testing.T) forwardtest.Outage {
			dl := filepath.Join(t.TempDir(), "dl.ndjson")
			return forwardtest.Outage{Target: newFakeES("ApiKey a2V5"), DeadLetter: dl, Open: func(url string) sink.Sink {
				return openSink(t, url, func(c *Config) { c.DeadLetter = dl })
			}}
		}, "a2V5")
	})
	t.Run("password", func(t *testing.T) {
		forwardtest.SecretsNotRepeated(t, func(t *testing.T) forwardtest.Outage {
			dl := filepath.Join(t.TempDir(), "dl.ndjson")
			// Basic elastic:es-pass-7
			return forwardtest.Outage{Target: newFakeES("Basic ZWxhc3RpYzplcy1wYXNzLTc="), DeadLetter: dl, Open: func(url string) sink.Sink {
				return openSink(t, url, func(c *Config) {
					c.DeadLetter, c.APIKey, c.Username, c.Password = dl, config.Secret{}, "elastic", config.NewSecret("es-pass-7")
				})
			}}
		}, "es-pass-7", "ZWxhc3RpYzplcy1wYXNzLTc=")
	})
}
