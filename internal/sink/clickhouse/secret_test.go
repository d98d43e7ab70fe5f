package clickhouse

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

// A server (or a proxy) that repeats the refused request in its answer,
// Authorization header included, does not get the password into the
// dead letters, the log or the error. The stand-in takes the password
// off before passing requests on to the real server (its default user
// has none).
func TestSecretsNotRepeated(t *testing.T) {
	forwardtest.SecretsNotRepeated(t, func(t *testing.T) forwardtest.Outage {
		u, err := url.Parse(server(t))
		if err != nil {
			t.Fatal(err)
		}
		proxy := httputil.NewSingleHostReverseProxy(u)
		dl := filepath.Join(t.TempDir(), "dl.ndjson")
		return forwardtest.Outage{
			Target: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.Header.Del("Authorization")
				proxy.ServeHTTP(w, r)
			}),
			DeadLetter: dl,
			Open: func(proxied string) sink.Sink {
				return openSink(t, func(c *Config) { c.URL, c.DeadLetter, c.Password = proxied, dl, config.NewSecret("ch-pass-9") })
			},
		}
	}, "ch-pass-9", "ZGVmYXVsdDpjaC1wYXNzLTk=")
}
