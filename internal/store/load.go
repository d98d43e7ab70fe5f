package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// The loader moves logged events into DuckDB. What that costs is DuckDB
// compressing columns. A commit that is not a whole row group leaves a
// partly filled row group, which DuckDB compresses at a checkpoint and
// compresses again when a later checkpoint merges it with its neighbours;
// a commit of exactly one row group (rowGroupSize rows) is compressed once,
// by DuckDB's direct row group write, with nothing left in the WAL. Loads
// of 40,960 rows cost 34 µs of loader time per event, loads of 122,880
// rows 16 µs. So the loader streams pending rows into an open Appender as
// they come and commits it when it holds a row group, or earlier when
// events come too slowly to fill one within maxLoadDelay. Commits run on
// their own goroutine and connection, so the next row group is appended
// while the previous one is compressed.
// rowGroupSize is DuckDB's row group size (rows per row group).
const rowGroupSize = 122_880

// When the loader commits a row group that is not full (variables so that
// tests can make it wait for whole row groups).
var (
	// loadEvery is how long a logged event waits at most before it
	// becomes searchable when events come too slowly to fill a row group
	// within maxLoadDelay.
	loadEvery = time.Second
	// maxLoadDelay is how long events may take to fill a row group at high
	// rates: the loader keeps filling one while, at the rate its events
	// were written, it fills within this time.
	maxLoadDelay = 4 * time.Second
	// maxLoadWait bounds the wait of an event in the open Appender once
	// the loader has caught up with Write.
	maxLoadWait = 10 * time.Second
)

const (
	// loadTick is how often the loader looks at the pending events.
	loadTick = 100 * time.Millisecond
	// wakeLoaderAt is the number of pending events at which Write wakes
	// the loader before its tick, keeping the events held in Go few.
	wakeLoaderAt = 8192
	// maxPending is where Write starts waiting for the loader, bounding
	// memory when DuckDB is slower than the feed. Events in Appenders are
	// not counted: they are at most two row groups (one being appended,
	// one being committed).
	maxPending = 100_000
)

// pendingRows are the rows of one Write, waiting for the loader.
type pendingRows struct {
	rows    [][]driver.Value
	written time.Time
}

// logCut records a rotation of the ingest log: the segments before seq
// hold only events up to id, so they can go once DuckDB has id.
type logCut struct {
	seq int
	id  uint64
}

// loadConn is a connection the loader appends with, and the lock that
// serializes its use.
type loadConn struct {
	mu   *sync.Mutex
	conn *sql.Conn
}

// openLoad is the loader's transaction in the making: rows appended to an
// Appender, not yet flushed. Only the loader goroutine touches it.
type openLoad struct {
	app    *duckdb.Appender
	on     *loadConn // app's connection
	next   int       // index in Store.loadConns of the next Appender's connection
	rows   int
	upto   uint64    // last id appended (also of earlier loads)
	handed uint64    // last id handed to a commit
	oldest time.Time // Write time of the oldest event appended
	// committing, when not nil, delivers the result of the commit in
	// flight.
	committing chan error
	// reload is set after a failed commit: the events after loadedID up
	// to upto are read again from the ingest log.
	reload bool
	// retryAt is when to try again after a failure.
	retryAt time.Time
}

// commitHook, when set (tests only, before Open), runs before each commit
// of the loader with the number of rows; an error fails the commit.
var commitHook func(rows int) error

// handedLoad is an Appender handed to the commit goroutine.
type handedLoad struct {
	app      *duckdb.Appender
	on       *loadConn
	upto     uint64
	complete []*blockAccum // word index blocks the commit completes
	rows     int
}

// loader moves logged events into DuckDB.
func (s *Store) loader() {
	defer close(s.done)
	t := time.NewTicker(loadTick)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			s.load(true)
			s.waitCommit()
			if s.ld.app != nil { // a commit failed: the log keeps the events
				s.dropAppender()
			}
			return
		case <-s.wake:
		case <-t.C:
		}
		s.load(false)
	}
}

// load appends the pending events to the open Appender and hands it to a
// commit when it holds a row group, when events have waited long enough,
// when Flush waits for them or when final.
func (s *Store) load(final bool) {
	ld := &s.ld
	if ld.committing != nil {
		select {
		case err := <-ld.committing:
			ld.committing = nil
			if err != nil {
				s.loadFailed(err)
			}
		default:
		}
	}
	if !final && time.Now().Before(ld.retryAt) {
		return
	}
	if ld.reload {
		if err := s.reloadFromLog(); err != nil {
			s.loadFailed(err)
			return
		}
	}
	for {
		rows, oldest, upto := s.takePending(rowGroupSize - ld.rows)
		if len(rows) > 0 {
			if err := s.appendToLoad(rows, oldest, upto); err != nil {
				s.loadFailed(err)
				return
			}
		}
		if ld.rows == 0 {
			return
		}
		full := ld.rows >= rowGroupSize
		if !full && !final && !s.mustLoadNow() {
			return
		}
		if err := s.waitCommit(); err != nil {
			s.loadFailed(err)
			return
		}
		s.handOff()
		if !full {
			return // took everything pending
		}
	}
}

// waitCommit waits for the commit in flight, if any, and returns its
// error.
func (s *Store) waitCommit() error {
	if s.ld.committing == nil {
		return nil
	}
	err := <-s.ld.committing
	s.ld.committing = nil
	return err
}

// takePending takes up to n pending rows (the oldest first). When it takes
// them all it rotates the ingest log, so that the closed segments hold
// only events up to the last one taken.
func (s *Store) takePending(n int) (rows [][]driver.Value, oldest time.Time, upto uint64) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pendingN == 0 || n <= 0 {
		return nil, oldest, 0
	}
	oldest = s.pending[0].written
	for len(s.pending) > 0 && len(rows) < n {
		p := &s.pending[0]
		k := min(len(p.rows), n-len(rows))
		rows = append(rows, p.rows[:k]...)
		p.rows = p.rows[k:]
		if len(p.rows) == 0 {
			s.pending[0] = pendingRows{}
			s.pending = s.pending[1:]
		}
	}
	s.pendingN -= len(rows)
	upto = rows[len(rows)-1][0].(uint64)
	s.cond.Broadcast() // Write may be waiting for room
	if s.pendingN == 0 && s.ilog != nil {
		if err := s.ilog.rotate(); err != nil {
			// The events stay in the current segment, which goes with a
			// later cut.
			s.log.Warn("store: rotating the ingest log", "err", err)
		} else {
			s.cuts = append(s.cuts, logCut{seq: s.ilog.seq, id: upto})
		}
	}
	return rows, oldest, upto
}

// mustLoadNow reports whether the open load, which holds every event
// written so far, is to be committed before its row group is full. Not
// while a commit is in flight; then if Flush is waiting, its oldest event
// has waited maxLoadWait, or it has waited loadEvery and, at the rate its
// events were written, the row group would take longer than maxLoadDelay
// to fill.
func (s *Store) mustLoadNow() bool {
	ld := &s.ld
	if ld.committing != nil {
		// A commit takes longer than appending: hand over a fuller
		// load once it is done.
		return false
	}
	s.mu.Lock()
	// (Once the load holds what Flush waits for: what was written since
	// the last take is taken first, filling the row group if it can.)
	flush := s.flushTo > ld.handed && ld.upto >= s.flushTo
	s.mu.Unlock()
	if flush {
		return true
	}
	age := time.Since(ld.oldest)
	if age < loadEvery {
		return false
	}
	// The load holds every event written since its oldest one: rows/age
	// is the rate.
	return age >= maxLoadWait || int64(maxLoadDelay)*int64(ld.rows) < int64(age)*rowGroupSize
}

// appendToLoad appends rows to the open Appender, creating it if needed.
func (s *Store) appendToLoad(rows [][]driver.Value, oldest time.Time, upto uint64) error {
	ld := &s.ld
	ld.upto = upto // a failure from here on reloads them from the log
	if ld.app == nil {
		on := &s.loadConns[ld.next]
		on.mu.Lock()
		err := on.conn.Raw(func(dc any) error {
			app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "events")
			if err != nil {
				return fmt.Errorf("store: appender: %w", err)
			}
			ld.app = app
			return nil
		})
		on.mu.Unlock()
		if err != nil {
			return err
		}
		ld.on, ld.oldest = on, oldest
		ld.next = (ld.next + 1) % len(s.loadConns)
	}
	// Appending fills the Appender's buffers only: it does not use the
	// connection, which a commit or retention may be using meanwhile.
	for _, row := range rows {
		if err := ld.app.AppendRow(row...); err != nil {
			return fmt.Errorf("store: append: %w", err)
		}
		ld.rows++
	}
	return nil
}

// handOff starts the commit of the open Appender on its own goroutine.
func (s *Store) handOff() {
	ld := &s.ld
	s.writeMu.Lock()
	complete := s.words.takeComplete(ld.upto)
	s.writeMu.Unlock()
	h := handedLoad{app: ld.app, on: ld.on, upto: ld.upto, complete: complete, rows: ld.rows}
	ld.app, ld.on, ld.rows, ld.handed = nil, nil, 0, ld.upto
	done := make(chan error, 1)
	ld.committing = done
	go func() { done <- s.commit(h) }()
}

// commit flushes a handed Appender (one transaction), then deletes the log
// segments DuckDB now holds, saves the word index of the blocks it
// completed and moves loadedID.
func (s *Store) commit(h handedLoad) error {
	h.on.mu.Lock()
	var err error
	if commitHook != nil {
		err = commitHook(h.rows)
	}
	if err != nil {
		h.on.conn.Raw(func(any) error { h.app.Clear(); return h.app.Close() })
	} else {
		err = h.on.conn.Raw(func(any) error {
			if err := h.app.Close(); err != nil { // flushes: one commit
				return fmt.Errorf("store: commit: %w", err)
			}
			return nil
		})
	}
	h.on.mu.Unlock()
	if err != nil {
		if len(h.complete) > 0 { // indexed from DuckDB once they are in it
			s.kickIndexer()
		}
		return err
	}
	// The field catalogue is an index for humans: failing to save it must
	// not fail events that are already committed.
	s.dbMu.Lock()
	if err := s.fields.save(context.Background(), s.conn); err != nil {
		s.log.Warn("store: saving field catalogue", "err", err)
	}
	s.dbMu.Unlock()
	s.mu.Lock()
	cut := 0
	for len(s.cuts) > 0 && s.cuts[0].id <= h.upto {
		cut = s.cuts[0].seq
		s.cuts = s.cuts[1:]
	}
	s.mu.Unlock()
	if cut > 0 {
		if err := s.ilog.removeBefore(cut); err != nil {
			s.log.Warn("store: removing loaded ingest log segments", "err", err)
		}
	}
	// Before loadedID moves: the indexer only looks at loaded blocks, so
	// it never indexes a block this is saving.
	backfill := s.saveBlocks(h.complete)
	s.mu.Lock()
	s.loadedID, s.loadErr = h.upto, nil
	s.cond.Broadcast()
	s.mu.Unlock()
	if backfill {
		s.kickIndexer()
	}
	return nil
}

// loadFailed discards the open load; its events, and those of the failed
// commit, are read again from the ingest log by the next round (and by
// Open after a crash).
func (s *Store) loadFailed(err error) {
	ld := &s.ld
	if ld.app != nil {
		s.dropAppender()
	}
	ld.rows = 0
	ld.reload = ld.upto > s.loaded()
	ld.handed = s.loaded()
	ld.retryAt = time.Now().Add(loadEvery)
	s.log.Error("store: loading events into DuckDB failed; will retry", "err", err)
	s.mu.Lock()
	s.loadErr = err
	s.cond.Broadcast()
	s.mu.Unlock()
}

func (s *Store) loaded() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loadedID
}

func (s *Store) dropAppender() {
	ld := &s.ld
	ld.on.mu.Lock()
	defer ld.on.mu.Unlock()
	ld.on.conn.Raw(func(any) error {
		ld.app.Clear()
		return ld.app.Close()
	})
	ld.app, ld.on = nil, nil
}

// reloadFromLog appends again the events of a failed load (after loadedID,
// up to the last one appended), read from the ingest log, which keeps them
// until they are committed.
func (s *Store) reloadFromLog() error {
	ld := &s.ld
	from, upto := s.loaded(), ld.upto
	var rows [][]driver.Value
	var oldest time.Time
	s.writeMu.Lock() // Write appends to the current segment
	_, err := replay(s.cfg.Dir, func(r logRecord) error {
		if r.id <= from || r.id > upto {
			return nil
		}
		row, _, err := s.builder.build(s.fields, r.doc, r.ts, r.id, r.ingested)
		if err != nil {
			return nil // refused when written: Write never logged it as good
		}
		if oldest.IsZero() {
			oldest = r.ingested
		}
		rows = append(rows, row)
		return nil
	})
	s.writeMu.Unlock()
	if err != nil {
		return err
	}
	if len(rows) == 0 || rows[len(rows)-1][0].(uint64) != upto {
		return errors.New("store: the ingest log lacks events of a failed load")
	}
	if err := s.appendToLoad(rows, oldest, upto); err != nil {
		return err
	}
	ld.reload = false
	return nil
}

// appendRows appends rows in one transaction with the Appender (recovery
// at Open, before the loader starts).
func (s *Store) appendRows(ctx context.Context, rows [][]driver.Value) error {
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	err := s.conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "events")
		if err != nil {
			return fmt.Errorf("store: appender: %w", err)
		}
		for _, row := range rows {
			if err := app.AppendRow(row...); err != nil {
				app.Clear()
				app.Close()
				return fmt.Errorf("store: append: %w", err)
			}
		}
		if err := app.Close(); err != nil { // flushes: one commit
			return fmt.Errorf("store: commit: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.fields.save(ctx, s.conn); err != nil {
		s.log.Warn("store: saving field catalogue", "err", err)
	}
	return nil
}
