// Package detectsink is the `detection` sink of `defender-intake run`: the
// pipeline fans every normalized document out to it as to any other sink,
// and it runs the document's raw Defender record (the document's
// `message`) and the document itself through the Sigma rules, writing
// grouped alerts to the embedded store's `alerts` table (and an NDJSON
// alert file and a webhook when configured).
//
// Detection never holds other sinks back: a document that cannot be
// evaluated is logged and counted, never returned as failed. The only
// error Write returns is the alerts failing to be stored, because
// acknowledging the batch would then lose them.
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

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
	"github.com/defender-intake/defender-intake/internal/detect/detector"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/store"
	"github.com/defender-intake/defender-intake/internal/store/storesink"
)

// Sink evaluates documents against the detection rules.
//
// Acknowledgement: Write returns nil once the alerts the batch created or
// updated are durable in the store (store.PutAlerts: appended to its
// fsynced alert log, in the alerts table within a second, recovered from
// the log at the next Open after a crash) and, when `file` is set,
// written to the alert file and fsynced. Documents are evaluated at least once: a batch retried after a
// failed alert write is not evaluated again (its matches are already counted and wait
// in memory for the next successful write), but a document the pipeline
// delivers twice for another reason (a restart before the source's
// checkpoint) counts twice in its alert.
type Sink struct {
	name string
	cfg  Config
	log  *slog.Logger
	det  *detector.Shared
	w    *detector.Worker
	// pending holds the alert changes not yet durable; file is the
	// optional alert file (nil without `file`).
	pending *pendingAlerts
	file    *alertFile
	// st is the store alerts go to, shared with the other users of its
	// directory in the process; acquired at first use (see storeHandle).
	stMu  sync.Mutex
	st    *store.Store
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

// Open loads the rules, opens the alert file when configured, restores
// the saved correlation windows, and starts listening for SIGHUP (rule
// reload) until Close.
//
// The store is opened (or shared, see storesink.AcquireDir) at first use:
// the first Write, or Store, which `run` calls once every sink is open.
// So when a store sink of the same directory is configured, whatever the
// order of the sinks, the store is opened with its retention settings.
func Open(name string, cfg Config, env sink.Env) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("detection sink %s: %w", name, err)
	}
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	var file *alertFile
	if cfg.File != "" {
		var err error
		if file, err = openAlertFile(cfg.File, int64(cfg.CompactMB)<<20); err != nil {
			return nil, fmt.Errorf("detection sink %s: %w", name, err)
		}
	}
	pending := &pendingAlerts{}
	dcfg := cfg.Config
	dcfg.File = "" // alerts are written once per batch (flush)
	det, err := detector.New(dcfg, log, pending)
	if err != nil {
		if file != nil {
			file.Close()
		}
		return nil, fmt.Errorf("detection sink %s: %w", name, err)
	}
	s := &Sink{
		name: name, cfg: cfg, log: log, det: det, w: det.NewWorker(), pending: pending, file: file,
		categories: map[string]string{}, stopped: make(chan struct{}),
		m: newSinkMetrics(env.Registerer, name),
	}
	s.restoreCorrelations()
	s.sighup = make(chan os.Signal, 1)
	signal.Notify(s.sighup, syscall.SIGHUP)
	s.loopDone.Add(1)
	go s.reloadLoop()
	return s, nil
}

// Store returns the store the sink keeps its alerts in, opening it (or
// sharing the process's open store of the directory) on first use, and
// then reopening the alerts new matches can still join.
func (s *Sink) Store(ctx context.Context) (*store.Store, error) {
	s.stMu.Lock()
	defer s.stMu.Unlock()
	if s.st != nil {
		return s.st, nil
	}
	st, err := storesink.AcquireDir(ctx, s.cfg.Store, s.log)
	if err != nil {
		return nil, fmt.Errorf("detection sink %s: alert store %s: %w", s.name, s.cfg.Store, err)
	}
	s.st = st
	s.restoreAlerts(ctx, st)
	return st, nil
}

// restoreAlerts reopens the alerts that new matches can still join, after
// importing the alert file when the store has no alert yet (the upgrade
// from versions that kept alerts in the file only). Failures are logged:
// the service still runs, detection just starts fresh.
func (s *Sink) restoreAlerts(ctx context.Context, st *store.Store) {
	if s.cfg.File != "" {
		if page, err := st.Alerts(ctx, store.AlertFilter{Limit: 1}); err == nil && page.Total == 0 {
			old, err := ReadAlerts(s.cfg.File, time.Time{})
			if err == nil {
				err = st.ImportAlerts(ctx, old)
			}
			if err != nil {
				s.log.Error("detection: alert file not imported into the store", "file", s.cfg.File, "err", err)
			} else if len(old) > 0 {
				s.log.Info("detection: alert file imported into the store", "file", s.cfg.File, "alerts", len(old))
			}
		}
	}
	open, err := st.RecentAlerts(ctx, restoreWindow(s.cfg.Alerts))
	if err != nil {
		s.log.Error("detection: not reopening alerts from the store", "err", err)
	}
	if len(open) > 0 {
		s.det.Restore(open)
	}
	s.log.Info("detection: alerts reopened", "alerts", len(open), "store", s.cfg.Store)
}

// restoreCorrelations reopens the correlation windows saved at the last
// Close. Failures are logged: the windows start empty.
func (s *Sink) restoreCorrelations() {
	st, err := loadState(s.cfg.statePath(s.name))
	if err != nil {
		s.log.Error("detection: correlation windows not restored", "err", err)
	}
	n := s.det.RestoreCorrelations(st)
	s.log.Info("detection: correlation windows restored", "groups", n, "of_saved", len(st.Groups))
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
	// The store first: alerts reopened from it before any match.
	if _, err := s.Store(ctx); err != nil {
		return err
	}
	if _, err := s.flush(ctx); err != nil { // a previous batch's alerts
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
		raw := d.Raw
		if len(raw) == 0 {
			// A producer without the record at hand: it is the message.
			if v, err := s.parse.ParseBytes(d.JSON); err == nil {
				raw = v.GetStringBytes("message")
			}
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
	n, err := s.flush(ctx)
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
	if s.file != nil && s.file.needsCompaction() {
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

// flush makes the pending alert changes durable: one append and fsync of
// the store's alert log (store.PutAlerts), then one of the alert file
// when there is one. On error they stay pending for the next flush (both writes are
// upserts: doing one again is harmless). It returns the number of alerts
// written.
func (s *Sink) flush(ctx context.Context) (int, error) {
	lines := s.pending.take()
	if len(lines) == 0 {
		return 0, nil
	}
	st, err := s.Store(ctx)
	if err != nil {
		return 0, err
	}
	as := make([]alerts.Alert, len(lines))
	for i, l := range lines {
		as[i] = l.Alert
	}
	if err := st.PutAlerts(ctx, as); err != nil {
		return 0, fmt.Errorf("detection sink %s: %w", s.name, err)
	}
	if s.file != nil {
		if err := s.file.appendLines(lines); err != nil {
			return 0, fmt.Errorf("detection sink %s: %w", s.name, err)
		}
	}
	s.pending.done(len(lines))
	return len(lines), nil
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
// windows, drains the webhook queue (up to 10 seconds) and releases the
// store (closed when no other sink of the process uses it).
func (s *Sink) Close() error {
	signal.Stop(s.sighup)
	close(s.stopped)
	s.loopDone.Wait()
	var errs []error
	if err := saveState(s.cfg.statePath(s.name), s.det.CorrelationState()); err != nil {
		errs = append(errs, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs = append(errs, s.det.Close(ctx))
	if _, err := s.flush(ctx); err != nil {
		errs = append(errs, err)
	}
	if s.file != nil {
		errs = append(errs, s.file.Close())
	}
	s.stMu.Lock()
	if s.st != nil {
		errs = append(errs, storesink.Release(s.st))
		s.st = nil
	}
	s.stMu.Unlock()
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
			Help: "Alert states written to the store (and the alert file when set): one per alert created or updated in a batch."}),
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

// AlertFile is the path of the optional alert file ("" without one).
func (s *Sink) AlertFile() string { return s.cfg.File }
