// Package detectsink is the `detection` sink of `defender-intake run`: the
// pipeline fans every normalized document out to it as to any other sink,
// and it runs the document's raw Defender record (the document's
// `message`) and the document itself through the Sigma rules, writing
// grouped alerts to an NDJSON alert file (and a webhook when configured).
//
// Detection never holds other sinks back: a document that cannot be
// evaluated is logged and counted, never returned as failed. The only
// error Write returns is the alert file failing, because acknowledging
// the batch would then lose its alerts.
package detectsink

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fastjson"

	"github.com/defender-intake/defender-intake/internal/detect/detector"
	"github.com/defender-intake/defender-intake/internal/sink"
)

// Sink evaluates documents against the detection rules.
//
// Acknowledgement: Write returns nil once the alerts the batch created or
// updated are written to the alert file and fsynced. Documents are
// evaluated at least once: a batch retried after a failed alert-file
// write is not evaluated again (its matches are already counted and wait
// in memory for the next successful write), but a document the pipeline
// delivers twice for another reason (a restart before the source's
// checkpoint) counts twice in its alert.
type Sink struct {
	name  string
	cfg   Config
	log   *slog.Logger
	det   *detector.Shared
	w     *detector.Worker
	file  *alertFile
	parse fastjson.Parser
	// categories maps event.dataset to the record category, learned from
	// the first record of each dataset, so Skip can be asked without
	// parsing the record.
	categories map[string]string
	// unflushed holds the ids of documents evaluated in a batch whose
	// alerts could not be written, so the pipeline's retry of that batch
	// does not count them again. retryWrites bounds how long it is kept.
	unflushed   map[string]struct{}
	retryWrites int
	evaluated   []string // ids of the current batch, reused

	sighup   chan os.Signal
	stopped  chan struct{}
	loopDone sync.WaitGroup
	m        sinkMetrics
}

// Open loads the rules, opens the alert file, reopens recent alerts from
// it and the saved correlation windows, and starts listening for SIGHUP
// (rule reload) until Close.
func Open(name string, cfg Config, env sink.Env) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("detection sink %s: %w", name, err)
	}
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	file, err := openAlertFile(cfg.File, int64(cfg.CompactMB)<<20)
	if err != nil {
		return nil, fmt.Errorf("detection sink %s: %w", name, err)
	}
	dcfg := cfg.Config
	dcfg.File = "" // our own alert file writes once per batch
	det, err := detector.New(dcfg, log, file)
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("detection sink %s: %w", name, err)
	}
	s := &Sink{
		name: name, cfg: cfg, log: log, det: det, w: det.NewWorker(), file: file,
		categories: map[string]string{}, stopped: make(chan struct{}),
		m: newSinkMetrics(env.Registerer, name),
	}
	s.restore()
	s.sighup = make(chan os.Signal, 1)
	signal.Notify(s.sighup, syscall.SIGHUP)
	s.loopDone.Add(1)
	go s.reloadLoop()
	return s, nil
}

// restore reopens the alerts that new matches can still join and the
// correlation windows saved at the last Close. Failures are logged: the
// service still runs, detection just starts fresh.
func (s *Sink) restore() {
	all, err := ReadAlerts(s.cfg.File, time.Time{})
	if err != nil {
		s.log.Error("detection: not reopening alerts from the alert file", "err", err)
	}
	var newest time.Time
	for _, a := range all {
		if a.LastSeen.After(newest) {
			newest = a.LastSeen
		}
	}
	since := newest.Add(-restoreWindow(s.cfg.Alerts))
	open := all[:0]
	for _, a := range all {
		if !a.LastSeen.Before(since) {
			open = append(open, a)
		}
	}
	if len(open) > 0 {
		s.det.Restore(open)
	}
	st, err := loadState(s.cfg.statePath())
	if err != nil {
		s.log.Error("detection: correlation windows not restored", "err", err)
	}
	n := s.det.RestoreCorrelations(st)
	s.log.Info("detection: state restored", "alerts", len(open), "correlation_groups", n, "of_saved", len(st.Groups))
}

func (s *Sink) reloadLoop() {
	defer s.loopDone.Done()
	for {
		select {
		case <-s.sighup:
			s.Reload()
		case <-s.stopped:
			return
		}
	}
}

// Reload reads the rules again (what SIGHUP does). When they fail to
// load, the current rules stay in force and the error is logged and
// returned.
func (s *Sink) Reload() error {
	if err := s.det.ReloadRules(); err != nil {
		s.m.reloads.WithLabelValues("failed").Inc()
		s.log.Error("detection: rule reload failed, keeping the current rules", "err", err)
		return err
	}
	s.m.reloads.WithLabelValues("ok").Inc()
	return nil
}

// Name implements sink.Sink.
func (s *Sink) Name() string { return s.name }

// Write implements sink.Sink (see the type's acknowledgement contract).
func (s *Sink) Write(ctx context.Context, docs []sink.Doc) error {
	if _, err := s.file.Flush(); err != nil { // a previous batch's alerts
		return err
	}
	retried := s.unflushed
	evaluated := s.evaluated[:0]
	defer func() { s.evaluated = evaluated[:0] }()
	var unreadable, failed, skipped int
	var firstErr error
	for _, d := range docs {
		// Known table without rules: not even parsed.
		if c, ok := s.categories[d.Dataset]; ok && c != "" && s.w.Skip(c) {
			skipped++
			continue
		}
		v, err := s.parse.ParseBytes(d.JSON)
		var raw []byte
		if err == nil {
			raw = v.GetStringBytes("message")
		}
		if len(raw) == 0 {
			unreadable++
			firstErr = firstOf(firstErr, errors.New("document has no raw record in message"))
			continue
		}
		if c := s.category(d.Dataset, raw); c != "" && s.w.Skip(c) {
			skipped++
			continue
		}
		id := EventID(raw)
		if _, ok := retried[id]; ok {
			continue
		}
		evaluated = append(evaluated, id)
		if _, err := s.w.Process(ctx, raw, d.JSON, id, d.Timestamp); err != nil {
			failed++
			firstErr = firstOf(firstErr, err)
		}
	}
	s.m.docs.WithLabelValues("evaluated").Add(float64(len(evaluated) - failed))
	s.m.docs.WithLabelValues("skipped").Add(float64(skipped))
	s.m.docs.WithLabelValues("error").Add(float64(unreadable + failed))
	if firstErr != nil {
		s.log.Warn("detection: documents not evaluated (delivered to the other sinks regardless)",
			"unreadable", unreadable, "failed", failed, "first_err", firstErr)
	}
	n, err := s.file.Flush()
	if err != nil {
		if s.unflushed == nil || s.retryWrites == 0 {
			s.unflushed = map[string]struct{}{}
		}
		for _, id := range evaluated {
			s.unflushed[id] = struct{}{}
		}
		s.retryWrites = 8
		return err
	}
	if s.retryWrites > 0 {
		if s.retryWrites--; s.retryWrites == 0 {
			s.unflushed = nil
		}
	}
	s.m.alertLines.Add(float64(n))
	if s.file.needsCompaction() {
		// The batch's alerts are durable already: a failed compaction is
		// logged, and tried again once the file has doubled.
		before := s.file.size
		if err := s.file.compact(); err != nil {
			s.file.compactAt = 2 * before
			s.log.Error("detection: alert file compaction failed", "err", err)
		} else {
			s.log.Info("detection: alert file compacted", "file", s.cfg.File, "bytes_before", before, "bytes_after", s.file.size)
		}
	}
	return nil
}

func firstOf(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// category returns the Defender category of documents of dataset, learned
// from raw the first time, or "" when unknown (then nothing is skipped).
func (s *Sink) category(dataset string, raw []byte) string {
	if c, ok := s.categories[dataset]; ok {
		return c
	}
	c := fastjson.GetString(raw, "category")
	if dataset == "" || dataset == "unknown" || c == "" {
		return ""
	}
	if c == "AdvancedHunting-DeviceInfo" {
		// DeviceInfo tells Linux from macOS devices to the field
		// mapping even when no rule reads the table: never skipped.
		c = ""
	}
	// At most one entry per table name normalize gives a dataset; the
	// bound only matters if datasets were unbounded.
	if len(s.categories) < 1024 {
		s.categories[dataset] = c
	}
	return c
}

// EventID is the id alerts give the events that matched: the first 128
// bits of the SHA-256 of the raw record, in hex. The store numbers events
// as it writes them, which another sink cannot know; a content hash is
// the same for a record however often it is delivered.
func EventID(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:16])
}

// Close stops reloading, writes pending alerts, saves the correlation
// windows and drains the webhook queue (up to 10 seconds).
func (s *Sink) Close() error {
	signal.Stop(s.sighup)
	close(s.stopped)
	s.loopDone.Wait()
	var errs []error
	if err := saveState(s.cfg.statePath(), s.det.CorrelationState()); err != nil {
		errs = append(errs, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs = append(errs, s.det.Close(ctx), s.file.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("detection sink %s: close: %w", s.name, err)
	}
	return nil
}

type sinkMetrics struct {
	docs       *prometheus.CounterVec
	reloads    *prometheus.CounterVec
	alertLines prometheus.Counter
}

func newSinkMetrics(reg prometheus.Registerer, name string) sinkMetrics {
	m := sinkMetrics{
		docs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "defender_intake", Name: "detection_documents_total",
			Help: "Documents the detection sink saw, by result (evaluated, skipped: no rule for the table, error)."}, []string{"result"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "defender_intake", Name: "detection_rule_reloads_total",
			Help: "Rule reloads (SIGHUP), by result (ok, failed: the previous rules stayed)."}, []string{"result"}),
		alertLines: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "defender_intake", Name: "detection_alert_lines_total",
			Help: "Alert states written to the alert file (one per alert created or updated in a batch)."}),
	}
	if reg != nil {
		reg = prometheus.WrapRegistererWith(prometheus.Labels{"sink": name}, reg)
		for _, c := range []prometheus.Collector{m.docs, m.reloads, m.alertLines} {
			if err := reg.Register(c); err != nil {
				slog.Default().Warn("detection: metric not registered", "sink", name, "err", err)
			}
		}
	}
	return m
}

// AlertFile is the path of the alert file, for readers (GET /api/alerts).
func (s *Sink) AlertFile() string { return s.cfg.File }
