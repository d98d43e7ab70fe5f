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
	"github.com/valyala/fastjson"
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

	writeMu sync.Mutex       // serializes Write and retention
	conn    *sql.Conn        // the writer's connection, holding the Appender
	app     *duckdb.Appender // kept open between batches; nil after an error
	nextID  uint64
	parser  fastjson.Parser
	docBuf  []byte
	row     []driver.Value

	fields *fieldSet
	rate   rateMeter
}

// Open opens (creating when needed) the store in cfg.Dir.
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
	s := &Store{cfg: cfg, path: path, db: db, log: log, fields: newFieldSet()}
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, err
	}
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
	}
	for _, q := range stmts {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: create schema: %w", err)
		}
	}
	if err := s.db.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM events`).Scan(&s.nextID); err != nil {
		return fmt.Errorf("store: read last id: %w", err)
	}
	if err := s.fields.load(ctx, s.db); err != nil {
		return err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: writer connection: %w", err)
	}
	s.conn = conn
	return nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close flushes and closes the database.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var errs []error
	if s.app != nil {
		errs = append(errs, s.app.Close())
		s.app = nil
	}
	if s.conn != nil {
		if _, err := s.conn.ExecContext(context.Background(), "CHECKPOINT"); err != nil {
			errs = append(errs, fmt.Errorf("store: checkpoint: %w", err))
		}
		errs = append(errs, s.conn.Close())
		s.conn = nil
	}
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

// Write appends docs. It returns nil only once every document is committed
// to the database (DuckDB syncs its write-ahead log on commit), so a caller
// may checkpoint its source past them. On error nothing of the batch is
// committed and Write may be retried with the same batch. Documents that
// are not JSON objects are refused with a *DocError naming them; the rest of
// the batch is still written.
func (s *Store) Write(ctx context.Context, docs []Doc) error {
	if len(docs) == 0 {
		return nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.conn == nil {
		return errors.New("store: write after close")
	}
	now := time.Now().UTC()
	var bad *DocError
	err := s.conn.Raw(func(dc any) error {
		if s.app == nil {
			app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "events")
			if err != nil {
				return fmt.Errorf("store: appender: %w", err)
			}
			s.app = app
		}
		app := s.app
		id := s.nextID
		for i, d := range docs {
			row, err := s.rowFor(d, id+1, now)
			if err != nil {
				if bad == nil {
					bad = &DocError{}
				}
				bad.Failed = append(bad.Failed, i)
				bad.Errs = append(bad.Errs, err)
				continue
			}
			if err := app.AppendRow(row...); err != nil {
				s.dropAppender()
				return fmt.Errorf("store: append document %d: %w", i, err)
			}
			id++
		}
		// Flush appends the rows in one auto-committed transaction.
		if err := app.Flush(); err != nil {
			s.dropAppender()
			return fmt.Errorf("store: commit batch: %w", err)
		}
		s.rate.add(now, int(id-s.nextID))
		s.nextID = id
		return nil
	})
	if err != nil {
		return err
	}
	// The field catalogue is an index for humans: failing to save it must
	// not fail a batch that is already committed.
	if err := s.fields.save(ctx, s.conn); err != nil {
		s.log.Warn("store: saving field catalogue", "err", err)
	}
	if bad != nil {
		return bad
	}
	return nil
}

// dropAppender discards rows not yet flushed, so a failed batch leaves
// nothing behind and can be retried whole.
func (s *Store) dropAppender() {
	if s.app == nil {
		return
	}
	s.app.Clear()
	s.app.Close()
	s.app = nil
}

// DocError lists documents of a Write that were refused (not JSON objects);
// every other document of the batch was written.
type DocError struct {
	Failed []int // indices into the batch, ascending
	Errs   []error
}

func (e *DocError) Error() string {
	return fmt.Sprintf("store: %d documents refused: %v", len(e.Failed), e.Errs[0])
}

// rowFor builds the Appender row for one document.
func (s *Store) rowFor(d Doc, id uint64, now time.Time) ([]driver.Value, error) {
	v, err := s.parser.ParseBytes(d.JSON)
	if err != nil {
		return nil, fmt.Errorf("document is not JSON: %w", err)
	}
	obj, err := v.Object()
	if err != nil {
		return nil, errors.New("document is not a JSON object")
	}
	ts := d.Timestamp
	if ts.IsZero() {
		if t := v.GetStringBytes("@timestamp"); t != nil {
			ts, _ = time.Parse(time.RFC3339Nano, string(t))
		}
		if ts.IsZero() {
			ts = now
		}
	}
	var message any
	if m := v.Get("message"); m != nil && m.Type() == fastjson.TypeString {
		message = string(m.GetStringBytes())
	}
	s.fields.observe(v)
	row := s.row[:0]
	row = append(row, id, ts.UTC(), now)
	for _, c := range typedColumns {
		row = append(row, extract(v, c))
	}
	// The raw record lives in its own column; keeping it out of doc halves
	// the stored bytes. Get puts it back.
	obj.Del("message")
	s.docBuf = v.MarshalTo(s.docBuf[:0])
	row = append(row, string(s.docBuf), message)
	s.row = row
	return row, nil
}
