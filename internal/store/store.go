// Package store is the embedded event store: one DuckDB database under a
// data directory holding every ECS document with typed columns for the
// fields analysts filter on most, the document as JSON and the raw record.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// FileName is the database file inside the data directory.
const FileName = "events.duckdb"

// Config configures the store.
type Config struct {
	// Dir is the data directory; the database is Dir/events.duckdb.
	Dir string `yaml:"dir"`
	// MaxAge deletes events whose @timestamp is older (0 keeps them).
	MaxAge time.Duration `yaml:"max_age"`
	// MaxBytes deletes the oldest events while the database is larger
	// (0 means no limit).
	MaxBytes int64 `yaml:"max_bytes"`
	// Threads caps DuckDB's worker threads (0: one per core).
	Threads int `yaml:"threads"`
}

// DefaultConfig returns the defaults: ./data, 30 days, no size limit.
func DefaultConfig() Config {
	return Config{Dir: "data", MaxAge: 30 * 24 * time.Hour}
}

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("store: dir must be set")
	case c.MaxAge < 0:
		return errors.New("store: max_age must not be negative")
	case c.MaxBytes < 0:
		return errors.New("store: max_bytes must not be negative")
	case c.MaxBytes > 0 && c.MaxBytes < 1<<20:
		return errors.New("store: max_bytes must be at least 1 MiB")
	case c.Threads < 0:
		return errors.New("store: threads must not be negative")
	}
	return nil
}

// Doc is one ECS document to store.
type Doc struct {
	// JSON is the ECS document (one JSON object). It is only read during
	// Write.
	JSON []byte
	// Timestamp is @timestamp; when zero it is read from the document.
	Timestamp time.Time
}

// Store is an open event store. Reads may run concurrently with each other
// and with Write.
type Store struct {
	cfg  Config
	path string
	db   *sql.DB
	log  *slog.Logger

	dbMu sync.Mutex // serializes the loader, retention and the catalogue on conn
	conn *sql.Conn  // the connection that writes
	// The loader commits on conn and conn2 in turn, appending to one
	// while the other commits (load.go).
	conn2Mu   sync.Mutex
	conn2     *sql.Conn
	loadConns []loadConn

	writeMu sync.Mutex // serializes Write and log rotation
	ilog    *ingestLog
	closed  bool
	nextID  uint64
	builder rowBuilder // for recovery; Write uses the pool
	logBuf  []byte
	keyBufs [][]uint64   // word index keys of a batch, per convert worker
	keyed   []keyedEvent // the events of a batch whose keys go to the index

	mu        sync.Mutex    // guards the fields below
	cond      *sync.Cond    // broadcast when the loader made progress
	pending   []pendingRows // written, not yet taken by the loader (load.go)
	pendingN  int           // rows in pending
	writtenID uint64        // last id made durable by Write
	loadedID  uint64        // last id committed to DuckDB
	flushTo   uint64        // Flush waits for the loader to commit up to here
	cuts      []logCut      // ingest log rotations not yet covered by a commit
	loadErr   error
	wake      chan struct{}
	stop      chan struct{}
	done      chan struct{}

	ld openLoad // the loader's open Appender (load.go)

	fields *fieldSet
	rate   rateMeter

	words     *wordIndex    // filters of the raw records' words (wordindex.go)
	indexWake chan struct{} // asks the indexer to look for unindexed blocks
	indexDone chan struct{}

	alog alertLog // alert states, logged then loaded (alertlog.go)

	loadedMu sync.Mutex // serializes the record of loaded files (loadedfiles.go)
}

// Open opens (creating when needed) the store in cfg.Dir. Events left in
// the ingest log by a crash are loaded before it returns.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	path := filepath.Join(cfg.Dir, FileName)
	connector, err := duckdb.NewConnector(path, nil)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db := sql.OpenDB(connector)
	s := &Store{cfg: cfg, path: path, db: db, log: log, fields: newFieldSet(),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		indexWake: make(chan struct{}, 1), indexDone: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	if err := s.init(ctx); err != nil {
		if s.conn != nil {
			s.conn.Close()
		}
		if s.conn2 != nil {
			s.conn2.Close()
		}
		db.Close()
		return nil, err
	}
	go s.loader()
	go s.indexer()
	return s, nil
}

func createTableSQL() string {
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS events (\n  id UBIGINT NOT NULL,\n  ts TIMESTAMP NOT NULL,\n  ingested TIMESTAMP NOT NULL")
	for _, c := range typedColumns {
		fmt.Fprintf(&b, ",\n  %s %s", c.Column, c.SQLType)
	}
	b.WriteString(",\n  doc VARCHAR NOT NULL,\n  message VARCHAR\n)")
	return b.String()
}

func (s *Store) init(ctx context.Context) error {
	if s.cfg.Threads > 0 {
		if _, err := s.db.ExecContext(ctx, fmt.Sprintf("SET threads = %d", s.cfg.Threads)); err != nil {
			return fmt.Errorf("store: set threads: %w", err)
		}
	}
	stmts := []string{
		createTableSQL(),
		`CREATE TABLE IF NOT EXISTS fields (name VARCHAR PRIMARY KEY, type VARCHAR NOT NULL)`,
		createAlertsTableSQL, // alerts.go
	}
	for _, q := range stmts {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: create schema: %w", err)
		}
	}
	if err := s.db.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM events`).Scan(&s.nextID); err != nil {
		return fmt.Errorf("store: read last id: %w", err)
	}
	id, err := s.storeID(ctx)
	if err != nil {
		return err
	}
	if s.words, err = openWordIndex(s.cfg.Dir, id); err != nil {
		return err
	}
	// Ids are never given twice, even after retention emptied the table:
	// a filter file names its ids.
	s.nextID = max(s.nextID, s.words.maxIndexedID())
	if err := s.fields.load(ctx, s.db); err != nil {
		return err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: writer connection: %w", err)
	}
	s.conn = conn
	if s.conn2, err = s.db.Conn(ctx); err != nil {
		return fmt.Errorf("store: writer connection: %w", err)
	}
	s.loadConns = []loadConn{{&s.dbMu, s.conn}, {&s.conn2Mu, s.conn2}}
	if err := s.recover(ctx); err != nil {
		return err
	}
	return s.openAlertLog(ctx) // alertlog.go: replays what a crash left
}

// recover loads what the ingest log holds beyond DuckDB's last id, then
// starts a fresh log segment.
func (s *Store) recover(ctx context.Context) error {
	inDB := s.nextID
	var rows [][]driver.Value
	last, err := replay(s.cfg.Dir, func(r logRecord) error {
		if r.id <= inDB {
			return nil
		}
		row, _, err := s.builder.build(s.fields, r.doc, r.ts, r.id, r.ingested)
		if err != nil {
			return nil // refused when written: Write never logged it as good
		}
		rows = append(rows, row)
		s.nextID = max(s.nextID, r.id)
		return nil
	})
	if err != nil {
		return err
	}
	if len(rows) > 0 {
		if err := s.appendRows(ctx, rows); err != nil {
			return fmt.Errorf("store: recovering %d logged events: %w", len(rows), err)
		}
		s.log.Info("store: recovered events from the ingest log", "events", len(rows))
	}
	s.writtenID, s.loadedID = s.nextID, s.nextID
	l, err := openLog(s.cfg.Dir, last)
	if err != nil {
		return err
	}
	s.ilog = l
	return l.removeBefore(l.seq)
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close loads everything written into DuckDB, checkpoints and closes it.
func (s *Store) Close() error {
	s.writeMu.Lock()
	if s.closed {
		s.writeMu.Unlock()
		return errors.New("store: closed twice")
	}
	s.closed = true // Write refuses from now on
	s.writeMu.Unlock()
	close(s.stop)
	<-s.done // the loader's last round loads what is pending
	<-s.indexDone
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var errs []error
	s.mu.Lock()
	loaded := s.loadedID >= s.writtenID
	errs = append(errs, s.loadErr)
	s.mu.Unlock()
	errs = append(errs, s.ilog.close())
	if loaded {
		errs = append(errs, s.ilog.removeBefore(s.ilog.seq+1))
	}
	s.ilog = nil
	errs = append(errs, s.closeAlertLog()) // alertlog.go: loads pending alerts
	s.dbMu.Lock()
	if _, err := s.conn.ExecContext(context.Background(), "CHECKPOINT"); err != nil {
		errs = append(errs, fmt.Errorf("store: checkpoint: %w", err))
	}
	errs = append(errs, s.conn.Close())
	s.dbMu.Unlock()
	s.conn2Mu.Lock()
	errs = append(errs, s.conn2.Close())
	s.conn2Mu.Unlock()
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

// Write stores docs. It returns nil only once every document is durable
// (fsynced to the ingest log, from which a crash recovers it), so a caller
// may checkpoint its source past them. Documents become searchable within
// about a second at moderate rates and within a few seconds at high rates,
// once their DuckDB row group is full (load.go); Flush waits for them. On
// error nothing of the batch counts as written and Write may be retried
// with the same batch. Documents that are not JSON objects are refused
// with a *DocError naming them; the rest of the batch is written.
func (s *Store) Write(ctx context.Context, docs []Doc) error {
	if len(docs) == 0 {
		return nil
	}
	// Wait for the loader before taking writeMu, which the loader needs.
	s.mu.Lock()
	for s.pendingN >= maxPending && s.loadErr == nil {
		s.kick()
		s.cond.Wait() // the loader broadcasts after every load
	}
	s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed {
		return errors.New("store: write after close")
	}
	now := time.Now().UTC()
	conv := s.convert(docs, now)
	var bad *DocError
	rows := make([][]driver.Value, 0, len(docs))
	buf := s.logBuf[:0]
	s.keyed = s.keyed[:0]
	id := s.nextID
	for i, d := range docs {
		row, ts, err := conv[i].row, conv[i].ts, conv[i].err
		if err == nil {
			row[0] = id + 1
		}
		if err != nil {
			if bad == nil {
				bad = &DocError{}
			}
			bad.Failed = append(bad.Failed, i)
			bad.Errs = append(bad.Errs, err)
			continue
		}
		id++
		s.keyed = append(s.keyed, keyedEvent{s.words.note(id, ts), conv[i].keys})
		buf = appendLogRecord(buf, logRecord{id: id, ts: ts, ingested: now, doc: d.JSON})
		rows = append(rows, row)
	}
	s.logBuf = buf
	if len(rows) > 0 {
		// The keys go into the index while the log is being synced, which
		// is mostly waiting for the disk. Keys of a failed write only
		// make the index answer "maybe" more often.
		indexed := make(chan struct{})
		go func(events []keyedEvent) {
			for _, e := range events {
				e.block.addKeys(e.keys)
			}
			close(indexed)
		}(s.keyed)
		err := s.ilog.write(buf)
		<-indexed
		s.keyed = s.keyed[:0]
		if err != nil {
			// Later records must not sit behind a torn tail.
			if rerr := s.ilog.rotate(); rerr != nil {
				s.log.Error("store: rotating the ingest log after a failed write", "err", rerr)
			}
			return err
		}
		s.nextID = id
		s.rate.add(now, len(rows))
		s.mu.Lock()
		s.pending = append(s.pending, pendingRows{rows: rows, written: now})
		s.pendingN += len(rows)
		s.writtenID = id
		full := s.pendingN >= wakeLoaderAt
		s.mu.Unlock()
		if full {
			s.kick()
		}
	}
	if bad != nil {
		return bad
	}
	return nil
}

func (s *Store) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Flush waits until everything written so far is searchable.
func (s *Store) Flush(ctx context.Context) error {
	if err := s.loadAlerts(ctx); err != nil { // alertlog.go
		return err
	}
	s.mu.Lock()
	target := s.writtenID
	s.flushTo = max(s.flushTo, target) // the loader commits without waiting for a full row group
	s.mu.Unlock()
	for {
		s.kick()
		s.mu.Lock()
		loaded, err := s.loadedID >= target, s.loadErr
		s.mu.Unlock()
		if loaded {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return errors.New("store: closed")
		case <-time.After(5 * time.Millisecond):
		}
	}
}
