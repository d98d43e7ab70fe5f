package sekoia

import (
	"path/filepath"
	"testing"

	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

// An intake (or a proxy) that repeats the refused request in its answer
// does not get the intake key, which is in the body, into the dead
// letters or the log.
func TestSecretsNotRepeated(t *testing.T) {
	forwardtest.SecretsNotRepeated(t, func(t *testing.T) forwardtest.Outage {
		dl := filepath.Join(t.TempDir(), "dl.ndjson")
		return forwardtest.Outage{Target: &intake{t: t}, DeadLetter: dl, Open: func(url string) sink.Sink {
			return open(t, url, func(c *Config) { c.DeadLetter = dl })
		}}
	}, "key-123")
}
