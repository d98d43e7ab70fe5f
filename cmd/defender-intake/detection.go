package main

import (
	"log/slog"
	"net/http"
	"sort"

	"github.com/defender-intake/defender-intake/internal/alertapi"
	"github.com/defender-intake/defender-intake/internal/detect/detectsink"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/web"
)

// The detection sink type (`type: detection` under sinks) and, when one is
// configured, GET /api/alerts on the service's HTTP server.
func init() {
	mountHTTP(mountAlerts)
}

// mountAlerts serves the alert files of the configured detection sinks on
// GET /api/alerts, behind the same API token as the Events page (read from
// the environment, as for serve), through the web package so the check
// is the same code.
func mountAlerts(mux *http.ServeMux, sinks map[string]sink.Sink) error {
	var names []string
	for name, s := range sinks {
		if _, ok := s.(*detectsink.Sink); ok {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	files := make([]string, len(names))
	for i, n := range names {
		files[i] = sinks[n].(*detectsink.Sink).AlertFile()
	}
	token, err := web.DefaultConfig().LoadToken()
	if err != nil {
		return err
	}
	log := slog.Default()
	// Only the alerts route of this handler is mounted: it has no store.
	h := web.New(web.Options{Alerts: alertapi.Handler(files, log), Token: token, Logger: log})
	mux.Handle(web.AlertsPattern, h)
	return nil
}
