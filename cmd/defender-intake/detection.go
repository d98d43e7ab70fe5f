package main

import (
	"log/slog"
	"net/http"
	"sort"

	"github.com/defender-intake/defender-intake/internal/alertapi"
	"github.com/defender-intake/defender-intake/internal/detect/detectsink"
	"github.com/defender-intake/defender-intake/internal/sink"
)

// The detection sink type (`type: detection` under sinks) and, when one is
// configured, GET /api/alerts on the service's HTTP server.
func init() {
	mountHTTP(func(mux *http.ServeMux, sinks map[string]sink.Sink) error {
		names := make([]string, 0, len(sinks))
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
		mux.Handle("GET /api/alerts", alertapi.Handler(files, slog.Default()))
		return nil
	})
}
