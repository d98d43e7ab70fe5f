package main

import (
	"github.com/defender-intake/defender-intake/internal/sink/besteffort"

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
}
