// Package metrics holds the Prometheus metrics of the collection service.
// Every component gets the same *Metrics so names and labels stay in one
// place; each Metrics has its own registry so tests do not share state.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the service's instruments. Label "source" is the configured
// source name, "partition" the source's partition, "sink" the sink name.
type Metrics struct {
	Registry *prometheus.Registry

	MessagesReceived *prometheus.CounterVec // source, partition
	BytesReceived    *prometheus.CounterVec // source, partition
	RecordsReceived  *prometheus.CounterVec // source, partition
	EmptyMessages    *prometheus.CounterVec // source: heartbeats, empty bodies
	// RecordsNormalized counts documents produced, per dataset.
	RecordsNormalized *prometheus.CounterVec // source, dataset
	// DeadLettered counts dead-letter entries, per stage ("source",
	// "envelope", "normalize").
	DeadLettered *prometheus.CounterVec // source, stage

	SinkWriteSeconds *prometheus.HistogramVec // sink
	SinkErrors       *prometheus.CounterVec   // sink
	SinkDocs         *prometheus.CounterVec   // sink: documents durably accepted

	// LagSeconds is now minus the enqueued time of the last processed
	// message; LagMessages is the number of messages behind the newest one
	// the source knows of (absent when it does not know).
	LagSeconds  *prometheus.GaugeVec // source, partition
	LagMessages *prometheus.GaugeVec // source, partition

	BatchesInFlight *prometheus.GaugeVec   // source
	Checkpoints     *prometheus.CounterVec // source: positions recorded
	CheckpointErrs  *prometheus.CounterVec // source

	// HTTPRefusals counts the requests an HTTP source answered with
	// anything but 200 (and the connections it turned away at its
	// connection limit, as 503), per status code.
	HTTPRefusals *prometheus.CounterVec // source, code
}

// New creates the instruments on a fresh registry, with Go runtime and
// process collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "defender_intake", Name: name, Help: help}, labels)
		r.MustRegister(c)
		return c
	}
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		c := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "defender_intake", Name: name, Help: help}, labels)
		r.MustRegister(c)
		return c
	}
	m := &Metrics{
		Registry:          r,
		MessagesReceived:  f("messages_received_total", "Messages read from a source (Event Hub events, Kafka records, HTTP bodies, file records).", "source", "partition"),
		BytesReceived:     f("bytes_received_total", "Bytes of message bodies read from a source.", "source", "partition"),
		RecordsReceived:   f("records_received_total", "Defender records found in messages.", "source", "partition"),
		EmptyMessages:     f("empty_messages_total", "Heartbeat or empty messages skipped.", "source"),
		RecordsNormalized: f("records_normalized_total", "ECS documents produced.", "source", "dataset"),
		DeadLettered:      f("dead_lettered_total", "Entries written to the dead-letter output.", "source", "stage"),
		SinkWriteSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "defender_intake", Name: "sink_write_seconds", Help: "Duration of one sink write (one batch).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"sink"}),
		SinkErrors:      f("sink_errors_total", "Failed sink writes (each is retried).", "sink"),
		SinkDocs:        f("sink_documents_total", "Documents durably accepted by a sink.", "sink"),
		LagSeconds:      g("consumer_lag_seconds", "Now minus the enqueued time of the last processed message.", "source", "partition"),
		LagMessages:     g("consumer_lag_messages", "Messages between the last processed one and the newest one known to the source.", "source", "partition"),
		BatchesInFlight: g("batches_in_flight", "Batches emitted by a source and not yet acknowledged.", "source"),
		Checkpoints:     f("checkpoints_total", "Positions recorded (Event Hub checkpoints, Kafka commits, file offsets).", "source"),
		CheckpointErrs:  f("checkpoint_errors_total", "Failed attempts to record a position.", "source"),
		HTTPRefusals:    f("http_refusals_total", "Requests an HTTP source answered with anything but 200, and connections it turned away (503), per status code.", "source", "code"),
	}
	r.MustRegister(m.SinkWriteSeconds)
	return m
}

// Handler serves the registry in the Prometheus exposition format, with
// the metrics of the given other registries (components that keep their
// own, such as the best-effort sink queues) on the same page.
func (m *Metrics) Handler(others ...prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(append(prometheus.Gatherers{m.Registry}, others...), promhttp.HandlerOpts{Registry: m.Registry})
}
