package main

import (
	"strings"

	"github.com/defender-intake/defender-intake/internal/metrics"
)

// deadLettered is how many entries the service wrote to its dead-letter
// output: a run whose sources ended by themselves (files replayed without
// follow) exits 1 when it is not zero, like normalize and ingest.
func deadLettered(m *metrics.Metrics) int {
	families, err := m.Registry.Gather()
	if err != nil {
		return 0
	}
	n := 0.0
	for _, f := range families {
		if !strings.HasSuffix(f.GetName(), "dead_lettered_total") {
			continue
		}
		for _, c := range f.GetMetric() {
			n += c.GetCounter().GetValue()
		}
	}
	return int(n)
}
