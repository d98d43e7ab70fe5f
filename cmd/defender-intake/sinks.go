package main

import (
	"errors"
	"sort"

	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/besteffort"
	"github.com/defender-intake/defender-intake/internal/sink/forward"

	// Forwarding sink types register themselves.
	_ "github.com/defender-intake/defender-intake/internal/sink/clickhouse"
	_ "github.com/defender-intake/defender-intake/internal/sink/elasticsearch"
	_ "github.com/defender-intake/defender-intake/internal/sink/kafka"
	_ "github.com/defender-intake/defender-intake/internal/sink/sekoia"
	_ "github.com/defender-intake/defender-intake/internal/sink/splunkhec"

	// The Event Hubs Capture backfill source (issue 6) registers itself.
	_ "github.com/defender-intake/defender-intake/internal/source/capture"
)

func init() {
	// Best-effort queue metrics live in their own registry (sinks are
	// opened without the service's metrics); /metrics shows them too.
	extraMetrics = append(extraMetrics, besteffort.Registry)
	// So do the forwarding sinks' (target unavailable, dead letters).
	extraMetrics = append(extraMetrics, forward.Registry)
}

// sinksUnavailable says which sinks' targets refuse every request (wrong
// credentials or URL), for /readyz; nil when none does. A best-effort
// sink does not hold collection back, so it does not make the service
// unready (its metric and log still say it).
func sinksUnavailable(sinks map[string]sink.Sink) error {
	names := make([]string, 0, len(sinks))
	for n := range sinks {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs []error
	for _, n := range names {
		if a, ok := sinks[n].(sink.Availability); ok {
			errs = append(errs, a.Unavailable())
		}
	}
	return errors.Join(errs...)
}
