package clickhouse

import (
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

// A wrong user, missing grants, a wrong URL or a dropped table hold the
// rows, they do not dead-letter them. The stand-in refuses in front of a
// real ClickHouse server.
func TestTargetOutage(t *testing.T) {
	forwardtest.TargetOutage(t, outageSetup)
}

// A server down or refusing the sink at start does not stop it from
// opening: the rows are held until the first Writes set the target up.
func TestDownAtStart(t *testing.T) {
	forwardtest.DownAtStart(t, outageSetup)
}

func outageSetup(t *testing.T) forwardtest.Outage {
	real := server(t)
	u, err := url.Parse(real)
	if err != nil {
		t.Fatal(err)
	}
	dl := filepath.Join(t.TempDir(), "dl.ndjson")
	var direct *Sink // the same table, not behind the stand-in
	return forwardtest.Outage{
		Target:     httputil.NewSingleHostReverseProxy(u),
		DeadLetter: dl,
		Open: func(proxied string) sink.Sink {
			s := openSink(t, func(c *Config) { c.URL, c.DeadLetter = proxied, dl })
			direct = openSink(t, func(c *Config) { c.Table = s.cfg.Table })
			return s
		},
		Delivered: func() []string {
			var hosts []string
			for _, r := range rows(t, direct, "SELECT host_name FROM "+direct.cfg.Database+"."+direct.cfg.Table) {
				hosts = append(hosts, r["host_name"].(string))
			}
			return hosts
		},
	}
}
