package main

import (
	"context"
	"log/slog"
	"net/http"
	"sort"

	"github.com/defender-intake/defender-intake/internal/alertapi"
	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/detect/detectsink"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/store"
	"github.com/defender-intake/defender-intake/internal/store/storesink"
	"github.com/defender-intake/defender-intake/internal/web"
)

// The detection sink type (`type: detection` under sinks) and, when a
// detection or store sink is configured, GET /api/alerts on the service's
// HTTP server.
func init() {
	mountHTTP(mountAlerts)
}

// mountAlerts serves the alerts of the stores the configured detection
// and store sinks use on GET /api/alerts, behind the same API token as the
// Events page (server.token or the environment, as for serve), through the web
// package so the check is the same code.
//
// It also opens the detection sinks' stores: mounts run once every sink is
// open, so a detection sink shares the store a store sink of the same
// directory opened with its retention, whatever their order in the file.
func mountAlerts(mux *http.ServeMux, sinks map[string]sink.Sink, srv config.Server) (mounted, error) {
	var names []string
	for name := range sinks {
		names = append(names, name)
	}
	sort.Strings(names)
	var stores []alertapi.Reader
	seen := map[*store.Store]bool{}
	for _, n := range names {
		var st *store.Store
		switch s := sinks[n].(type) {
		case *detectsink.Sink:
			var err error
			if st, err = s.Store(context.Background()); err != nil {
				return mounted{}, err
			}
		case *storesink.Sink:
			st = s.Store()
		default:
			continue
		}
		if !seen[st] {
			seen[st] = true
			stores = append(stores, st)
		}
	}
	if len(stores) == 0 {
		return mounted{}, nil
	}
	log := slog.Default()
	// Only the alerts route of this handler is mounted: the Events page is
	// mounted over the store sink (serve.go).
	h := web.New(web.Options{Alerts: alertapi.Handler(log, stores...), Token: srv.WebToken(), Logger: log})
	mux.Handle(web.AlertsPattern, h)
	return mounted{name: "alerts API", path: "/api/alerts"}, nil
}
