package besteffort

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Registry holds the best-effort queue metrics. Sinks are opened without
// the service's metrics, so these live in their own registry, served by
// `run` on /metrics beside the service's.
var Registry = prometheus.NewRegistry()

var (
	queuedBytes = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "defender_intake", Name: "best_effort_queued_bytes", Help: "Bytes waiting in the on-disk queue of a best-effort sink."}, []string{"sink"})
	droppedDocs = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "defender_intake", Name: "best_effort_dropped_total", Help: "Documents a best-effort sink dropped because its queue was full."}, []string{"sink"})
	sentDocs    = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "defender_intake", Name: "best_effort_delivered_total", Help: "Documents a best-effort sink delivered from its queue."}, []string{"sink"})
	sendErrors  = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "defender_intake", Name: "best_effort_errors_total", Help: "Failed deliveries of a best-effort sink (retried)."}, []string{"sink"})
)

func init() {
	Registry.MustRegister(queuedBytes, droppedDocs, sentDocs, sendErrors)
}

type stats struct {
	queued                     prometheus.Gauge
	dropped, delivered, errors prometheus.Counter
}

func statsFor(name string) *stats {
	return &stats{queued: queuedBytes.WithLabelValues(name), dropped: droppedDocs.WithLabelValues(name),
		delivered: sentDocs.WithLabelValues(name), errors: sendErrors.WithLabelValues(name)}
}
