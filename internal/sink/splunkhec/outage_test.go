package splunkhec

import (
	"path/filepath"
	"testing"

	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

// A wrong token or URL holds the events, it does not dead-letter them.
func TestTargetOutage(t *testing.T) {
	forwardtest.TargetOutage(t, func(t *testing.T) forwardtest.Outage {
		h := &hec{}
		dl := filepath.Join(t.TempDir(), "dl.ndjson")
		return forwardtest.Outage{
			Target:     h,
			DeadLetter: dl,
			Open: func(url string) sink.Sink {
				return openSink(t, url, func(c *Config) { c.DeadLetter = dl })
			},
			Delivered: func() []string {
				events, _, bad := h.accepted()
				if len(bad) > 0 {
					t.Fatalf("format problems: %v", bad)
				}
				hosts := make([]string, len(events))
				for i, e := range events {
					hosts[i], _ = e["host"].(string)
				}
				return hosts
			},
		}
	})
}
