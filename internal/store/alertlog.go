package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
)

// The alert log does for alert states what the ingest log does for
// events. A DuckDB commit of an upsert costs 10-30 ms, which the detection
// sink paid for every batch before acknowledging it; appending the states
// to a file and fsyncing it costs what the sink's old alert file did. So
// PutAlerts only appends the batch's alert states to the log and fsyncs
// it, and a loader applies the latest state of each alert to the alerts
// table once a second: an alert updated by every batch of a noisy rule is
// one row write per second, not one per batch. A segment is deleted once
// DuckDB has committed all of it; at Open, the segments a crash left are
// loaded before Open returns.
//
// The segments, their records and their replay are the ingest log's
// (ingestlog.go), in their own directory: record id = the record's number
// since Open, ts = the alert's last_seen, ingested = when it was logged,
// document = the alert's row as upsertAlertsSQL reads it (alertRow).

// alertLogDir is the alert log's directory inside the data directory.
const alertLogDir = "alertlog"

// loadAlertsEvery bounds how long a logged alert state waits before the
// loader applies it to the alerts table (reads load pending states
// themselves: they never wait for it).
const loadAlertsEvery = time.Second

// maxPendingAlerts bounds the alert states waiting for the loader (their
// memory, and how long a load takes: DuckDB upserts 3,000 to 7,000 alerts
// carrying 100 event ids a second). Past it, PutAlerts loads them itself
// before logging more, slowing detection down to what DuckDB takes.
const maxPendingAlerts = 10_000

// alertLog is the Store's alert log and its loader's state.
type alertLog struct {
	loadMu sync.Mutex // one load at a time; held by ImportAlerts and RetainAlerts around their statement

	mu      sync.Mutex // serializes appends with rotation; guards the fields below
	log     *ingestLog
	closed  bool
	records uint64
	buf     []byte
	// pending holds the latest logged state of each alert not yet
	// committed to DuckDB (alertRow JSON, by alert id).
	pending map[string][]byte

	stop, done chan struct{}
}

// openAlertLog applies the states a crash left in the alert log to the
// alerts table, starts a fresh segment and the loader. Called once by
// Open, after the schema exists.
func (s *Store) openAlertLog(ctx context.Context) error {
	l := &s.alog
	dir := filepath.Join(s.cfg.Dir, alertLogDir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("store: create alert log directory: %w", err)
	}
	latest := map[string][]byte{}
	var records int
	last, err := replay(dir, func(r logRecord) error {
		var row struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(r.doc, &row); err != nil || row.ID == "" {
			// The CRC held, so this is no torn write: never expected.
			s.log.Warn("store: alert log record is not an alert; skipped", "err", err)
			return nil
		}
		records++
		latest[row.ID] = append([]byte(nil), r.doc...) // r.doc is reused
		return nil
	})
	if err != nil {
		return err
	}
	if len(latest) > 0 {
		rows := make([][]byte, 0, len(latest))
		for _, row := range latest {
			rows = append(rows, row)
		}
		if err := s.upsertAlertRows(ctx, rows, false); err != nil {
			return fmt.Errorf("store: recovering %d logged alerts: %w", len(rows), err)
		}
		s.log.Info("store: recovered alerts from the alert log", "alerts", len(rows), "states", records)
	}
	il, err := openLog(dir, last)
	if err != nil {
		return err
	}
	if err := il.removeBefore(il.seq); err != nil {
		il.close()
		return err
	}
	l.log, l.pending = il, map[string][]byte{}
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go s.alertLoader()
	return nil
}

// logAlerts appends the states of as to the alert log and fsyncs it
// (PutAlerts' durability). On error nothing of the batch counts as
// written: the caller retries the whole batch.
func (s *Store) logAlerts(ctx context.Context, as []alerts.Alert) error {
	if len(as) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	l := &s.alog
	l.mu.Lock()
	backlog := len(l.pending)
	l.mu.Unlock()
	if backlog >= maxPendingAlerts {
		if err := s.loadAlerts(ctx); err != nil {
			return err
		}
	}
	now := time.Now()
	// Encoded before taking the lock: a load waits for appends, not for
	// JSON encoding.
	rows := make([][]byte, len(as))
	for i, a := range as {
		row, err := appendAlertRow(nil, a)
		if err != nil {
			return err
		}
		rows[i] = row
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.log == nil {
		return errors.New("store: alerts written after close")
	}
	buf := l.buf[:0]
	for i, a := range as {
		l.records++
		buf = appendLogRecord(buf, logRecord{id: l.records, ts: a.LastSeen, ingested: now, doc: rows[i]})
	}
	l.buf = buf
	if err := l.log.write(buf); err != nil {
		// Later records must not sit behind a torn tail.
		if rerr := l.log.rotate(); rerr != nil {
			s.log.Error("store: rotating the alert log after a failed write", "err", rerr)
		}
		return fmt.Errorf("store: alerts: %w", err)
	}
	for i, a := range as {
		l.pending[a.ID] = rows[i]
	}
	return nil
}

// alertLoader applies the logged alert states to DuckDB every
// loadAlertsEvery until closeAlertLog.
func (s *Store) alertLoader() {
	defer close(s.alog.done)
	t := time.NewTicker(loadAlertsEvery)
	defer t.Stop()
	for {
		select {
		case <-s.alog.stop:
			return
		case <-t.C:
		}
		if err := s.loadAlerts(context.Background()); err != nil {
			s.log.Error("store: loading logged alerts into DuckDB failed; will retry", "err", err)
		}
	}
}

// loadAlerts commits the pending alert states to the alerts table; when
// it returns nil, every state logged before the call is in DuckDB.
func (s *Store) loadAlerts(ctx context.Context) error {
	return s.withAlertsLoaded(ctx, func() error { return nil })
}

// withAlertsLoaded loads the pending alert states, then runs fn with no
// other load running (its statement sees, and is not overwritten by,
// any state logged before the call).
func (s *Store) withAlertsLoaded(ctx context.Context, fn func() error) error {
	l := &s.alog
	l.loadMu.Lock()
	defer l.loadMu.Unlock()
	if err := s.loadPendingAlerts(ctx); err != nil {
		return err
	}
	return fn()
}

// loadPendingAlerts is one load (l.loadMu held): it takes the pending
// states, starts a new log segment so that all of them are in the closed
// ones, upserts them in one transaction, then deletes those segments. On
// failure the states go back to pending (unless a newer state of the
// alert was logged meanwhile) and their segments stay for the next load
// or, after a crash, the next Open.
func (s *Store) loadPendingAlerts(ctx context.Context) error {
	l := &s.alog
	l.mu.Lock()
	if len(l.pending) == 0 || l.log == nil {
		l.mu.Unlock()
		return nil
	}
	taken := l.pending
	l.pending = make(map[string][]byte, len(taken))
	err := l.log.rotate()
	cut := l.log.seq
	l.mu.Unlock()
	if err == nil {
		rows := make([][]byte, 0, len(taken))
		for _, row := range taken {
			rows = append(rows, row)
		}
		err = s.upsertAlertRows(ctx, rows, false)
	}
	if err != nil {
		l.mu.Lock()
		for id, row := range taken {
			if _, newer := l.pending[id]; !newer {
				l.pending[id] = row
			}
		}
		l.mu.Unlock()
		return fmt.Errorf("store: loading %d logged alerts: %w", len(taken), err)
	}
	if err := l.log.removeBefore(cut); err != nil {
		s.log.Warn("store: removing loaded alert log segments", "err", err)
	}
	return nil
}

// closeAlertLog stops the loader, loads what is pending and closes the
// log, deleting it when everything is in DuckDB (otherwise the next Open
// loads it). Called once by Close, before DuckDB's checkpoint.
func (s *Store) closeAlertLog() error {
	l := &s.alog
	if l.stop == nil {
		return nil // never opened
	}
	close(l.stop)
	<-l.done
	l.mu.Lock()
	l.closed = true // logAlerts refuses from now on
	l.mu.Unlock()
	l.loadMu.Lock()
	defer l.loadMu.Unlock()
	loadErr := s.loadPendingAlerts(context.Background())
	l.mu.Lock()
	defer l.mu.Unlock()
	errs := []error{loadErr, l.log.close()}
	if loadErr == nil {
		errs = append(errs, l.log.removeBefore(l.log.seq+1))
	}
	l.log = nil
	return errors.Join(errs...)
}
