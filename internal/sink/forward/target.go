package forward

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/defender-intake/defender-intake/internal/sink"
)

// Registry holds the forwarding sinks' metrics. Sinks are opened without
// the service's metrics, so these live in their own registry, served by
// `run` on /metrics beside the service's.
var Registry = prometheus.NewRegistry()

var (
	targetUnavailable = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "defender_intake", Name: "sink_target_unavailable",
		Help: "1 while the sink's target refuses its requests as a whole (HTTP 401, 403, 404, 407, a redirect...: credentials, permissions or URL); the documents are held and retried."}, []string{"sink"})
	targetRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "defender_intake", Name: "sink_target_refusals_total",
		Help: "Requests the sink's target refused as a whole (credentials, permissions or URL), by HTTP status."}, []string{"sink", "code"})
	sinkDeadLettered = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "defender_intake", Name: "sink_dead_lettered_total",
		Help: "Documents a sink's target refused for good (that document only), written to the sink's dead-letter file."}, []string{"sink"})
)

func init() {
	Registry.MustRegister(targetUnavailable, targetRefusals, sinkDeadLettered)
}

// RefusesRequest reports whether err is a refusal of the request as a
// whole that names no document (refusalCode). Sending the same documents
// again later can succeed once the configuration or the target is fixed;
// dead-lettering them would lose nothing wrong with them.
func RefusesRequest(err error) bool {
	var se *StatusError
	var ce *CertificateError
	return errors.As(err, &se) && se.refusesRequest() || errors.As(err, &ce)
}

// CertificateError is a connection refused because the target's TLS
// certificate does not verify (an unknown authority, another host name,
// expired): tls.ca_file or the URL is wrong, or someone is in between.
// Like a 401 it lasts until the configuration or the target is fixed, so
// it is a refusal of the request as a whole (it matches
// sink.ErrTargetUnavailable), not a network fault retried in silence.
type CertificateError struct{ Err error }

func (e *CertificateError) Error() string { return e.Err.Error() }
func (e *CertificateError) Unwrap() error { return e.Err }

// Is makes e match sink.ErrTargetUnavailable.
func (e *CertificateError) Is(target error) bool { return target == sink.ErrTargetUnavailable }

// certificateRefused reports whether err is a failed verification of
// the target's certificate.
func certificateRefused(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

// refusalCode reports whether an HTTP status refuses the request as a
// whole rather than its content: 401 and 407 (credentials), 403
// (permissions), 404 and 410 (a wrong URL, intake or table), 405, 411,
// 414, 415, 421, 426, 431 and the other 4xx that are about the method,
// headers, URL or protocol, and every 3xx (the sinks do not follow
// redirects: a 302 followed as a GET would be a 200 for documents never
// sent, and a 307 would send the key to another host). Only 400, 409, 413
// and 422 say something about the documents (Permanent); 408 and 429 ask
// for a retry.
func refusalCode(code int) bool {
	switch {
	case code >= 300 && code < 400:
		return true
	case code >= 400 && code < 500:
		switch code {
		case 400, 408, 409, 413, 422, 429:
			return false
		}
		return true
	}
	return false
}

// LogEvery is how often at most a sink logs that its target refuses it.
const LogEvery = time.Minute

// Target tracks whether a sink's target refuses its requests as a whole,
// and says so: the sink_target_unavailable gauge, an ERROR line at most
// every LogEvery (with the count of refusals not logged), one line when
// the target answers again, and Unavailable for /readyz. A nil *Target
// does nothing. It is safe for concurrent use.
type Target struct {
	sink  string
	log   *slog.Logger
	gauge prometheus.Gauge
	// now is the clock of the log's rate limit (tests inject one).
	now func() time.Time

	mu       sync.Mutex
	down     bool
	since    time.Time
	cause    string
	refusals int // in the current outage
	// logged is the time of the last ERROR line (zero: none yet);
	// unlogged counts refusals since then; loggedDown says the current
	// outage was logged, so its end is logged too.
	logged     time.Time
	unlogged   int
	loggedDown bool
}

// NewTarget returns the tracker of sink name's target, logging to log.
func NewTarget(name string, log *slog.Logger) *Target {
	g := targetUnavailable.WithLabelValues(name)
	g.Set(0)
	return &Target{sink: name, log: log, gauge: g, now: time.Now}
}

// SetClock replaces the clock of the log's rate limit (for tests).
func (t *Target) SetClock(now func() time.Time) {
	t.mu.Lock()
	t.now = now
	t.mu.Unlock()
}

// Observe records what one request to the target came to. A refusal of
// the request as a whole (RefusesRequest) marks the target unavailable.
// A success (nil) or a refusal of documents (Permanent: the target read
// them) marks it available again. A certificate that does not verify
// (CertificateError) marks it unavailable too. Other failures (network,
// 429, 5xx) say nothing about credentials or URL and change nothing.
func (t *Target) Observe(err error) {
	if t == nil {
		return
	}
	var se *StatusError
	var ce *CertificateError
	switch {
	case err == nil || Permanent(err):
		t.answered()
	case errors.As(err, &se) && se.refusesRequest():
		t.refused(se)
	case errors.As(err, &ce):
		t.refusedAs("tls", ce.Error(), ce.Error())
	}
}

func (t *Target) refused(se *StatusError) { t.refusedAs(strconv.Itoa(se.Code), se.Body, se.Error()) }

// Refused records a refusal of the sink's request as a whole that is not
// an HTTP answer (a Kafka authentication or authorization error): code
// labels the refusals counter and the log line, answer is what the
// target said. Sinks that use Observe need not call it.
func (t *Target) Refused(code, answer string) {
	if t != nil {
		t.refusedAs(code, answer, code+": "+answer)
	}
}

// refusedAs records a refusal; cause is what Unavailable gives.
func (t *Target) refusedAs(code, answer, cause string) {
	targetRefusals.WithLabelValues(t.sink, code).Inc()
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if !t.down {
		t.down, t.since, t.refusals, t.loggedDown = true, now, 0, false
		t.gauge.Set(1)
	}
	t.cause = cause
	t.refusals++
	t.unlogged++
	if !t.logged.IsZero() && now.Sub(t.logged) < LogEvery {
		return
	}
	// unlogged-1: the refusals between the previous line and this one.
	t.log.Error("the target refuses every request of this sink: check its credentials, permissions and URL; documents are kept and retried, and sources do not checkpoint past them",
		"status", code, "answer", answer, "since", t.since.UTC().Format(time.RFC3339), "refusals", t.refusals,
		"not_logged", t.unlogged-1, "next_line_in_at_least", LogEvery)
	t.logged, t.unlogged, t.loggedDown = now, 0, true
}

// Answered records that the target took or read a request: it is
// available again. Sinks that use Observe need not call it.
func (t *Target) Answered() {
	if t != nil {
		t.answered()
	}
}

func (t *Target) answered() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.down {
		return
	}
	t.down = false
	t.gauge.Set(0)
	if t.loggedDown {
		// Only outages that were logged get an end line: a flapping
		// target cannot log more often than the ERROR lines.
		t.log.Warn("the target accepts this sink's requests again", "unavailable_for", t.now().Sub(t.since).Round(time.Millisecond), "refusals", t.refusals)
	}
}

// Unavailable implements sink.Availability: an error matching
// sink.ErrTargetUnavailable while the target refuses the sink's requests.
func (t *Target) Unavailable() error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.down {
		return nil
	}
	return fmt.Errorf("sink %s: %w since %s: %s", t.sink, sink.ErrTargetUnavailable, t.since.UTC().Format(time.RFC3339), t.cause)
}

// Close removes the sink's gauge, so a closed sink does not stay reported
// as unavailable.
func (t *Target) Close() {
	if t != nil {
		targetUnavailable.DeleteLabelValues(t.sink)
	}
}
