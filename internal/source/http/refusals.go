package http

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// refusalLogEvery is the least time between two log lines about refused
// requests: a client that retries in a loop must not flood the log.
const refusalLogEvery = time.Minute

// refusals counts every request the source answers with anything but 200
// (defender_intake_http_refusals_total{source, code}) and logs them, at
// most once per refusalLogEvery: the first refusal at once, then a line
// with the counts per code since the last one. Without it, a client
// turned away at the door (401, 408, 413, 503) left no trace on the
// server.
type refusals struct {
	counter *prometheus.CounterVec
	source  string
	log     *slog.Logger
	now     func() time.Time

	mu       sync.Mutex
	lastLog  time.Time
	unlogged map[int]int // refusals since the last log line, per code
}

func newRefusals(counter *prometheus.CounterVec, source string, log *slog.Logger) *refusals {
	return &refusals{counter: counter, source: source, log: log, now: time.Now, unlogged: map[int]int{}}
}

// add counts one refusal and logs it if the last log line is old enough.
func (r *refusals) add(code int, reason, remote string) {
	r.counter.WithLabelValues(r.source, strconv.Itoa(code)).Inc()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unlogged[code]++
	now := r.now()
	if !r.lastLog.IsZero() && now.Sub(r.lastLog) < refusalLogEvery {
		return
	}
	var counts []string
	total := 0
	for _, c := range slices.Sorted(maps.Keys(r.unlogged)) {
		counts = append(counts, fmt.Sprintf("%d: %d", c, r.unlogged[c]))
		total += r.unlogged[c]
	}
	r.log.Warn("http requests refused", "refused", total, "by_code", strings.Join(counts, ", "),
		"last_code", code, "last_reason", reason, "last_remote", remote, "next_log_after", refusalLogEvery)
	clear(r.unlogged)
	r.lastLog = now
}
