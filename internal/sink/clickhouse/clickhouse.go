// Package clickhouse is the sink that inserts ECS documents into a
// ClickHouse MergeTree table over the HTTP interface (INSERT ... FORMAT
// JSONEachRow), one row per document with typed columns like the
// embedded store's, the document, and the raw record.
package clickhouse

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward"
)

func init() {
	forward.Register("clickhouse", DefaultConfig, func(name string, c Config) (sink.Sink, error) {
		return Open(context.Background(), name, c)
	})
}

// Sink inserts rows.
type Sink struct {
	name    string
	cfg     Config
	base    string
	insert  string
	client  *http.Client
	retry   forward.Retrier
	log     *slog.Logger
	parser  fastjson.Parser
	body    []byte
	ends    []int // end of each row in body
	scratch []byte
	rejects *forward.Rejects
	refused forward.Refused
	target  *forward.Target
	now     func() time.Time
	// ready: the database and table exist (setup succeeded).
	ready bool
}

// Open builds the sink and creates the database and table when missing;
// when the server cannot do it yet, the first Writes do.
func Open(ctx context.Context, name string, cfg Config) (*Sink, error) {
	client, err := forward.NewHTTPClient(cfg.TLS, cfg.Timeout)
	if err != nil {
		return nil, fmt.Errorf("clickhouse sink %s: %w", name, err)
	}
	log := slog.Default().With("sink", name)
	target := forward.NewTarget(name, log)
	s := &Sink{name: name, cfg: cfg, base: strings.TrimRight(cfg.URL, "/") + "/", client: client, log: log, target: target,
		retry: forward.Retrier{MaxAttempts: cfg.MaxAttempts, Log: log, Target: target, Secrets: forward.NewSecrets(cfg.Username, cfg.Password.Value()).WithURL(cfg.URL),
			Whole: refusesRequest},
		insert: fmt.Sprintf("INSERT INTO `%s`.`%s` FORMAT JSONEachRow", cfg.Database, cfg.Table), now: time.Now}
	if s.rejects, err = forward.OpenRejects(name, cfg.DeadLetterPath(name)); err != nil {
		return nil, err
	}
	if err := s.setup(ctx); err != nil {
		// A server that is down or refuses the user at start is an outage
		// like any later one: the first Writes create the table, and hand
		// their rows back until they can.
		log.Error("cannot create the table yet; the rows are held until it is created", "err", err)
	}
	return s, nil
}

// setup creates the database and table when missing, once.
func (s *Sink) setup(ctx context.Context) error {
	if s.ready {
		return nil
	}
	if s.cfg.Database != "default" {
		if err := s.exec(ctx, fmt.Sprintf("CREATE DATABASE IF NOT EXISTS `%s`", s.cfg.Database), nil); err != nil {
			return fmt.Errorf("clickhouse sink %s: create database: %w", s.name, err)
		}
	}
	if err := s.exec(ctx, createTable(s.cfg.Database, s.cfg.Table), nil); err != nil {
		return fmt.Errorf("clickhouse sink %s: create table: %w", s.name, err)
	}
	s.ready = true
	return nil
}

// exec runs one statement; body, when not nil, is its data.
func (s *Sink) exec(ctx context.Context, query string, body []byte) error {
	out, err := s.query(ctx, query, body)
	switch {
	case err != nil:
		return err
	case bytes.Contains(out, []byte("DB::Exception")):
		// A statement without output that answers 200 with an exception
		// (sent after the status): not done.
		return fmt.Errorf("answered 200 with an exception: %.300s", s.retry.Secrets.Redact(string(out)))
	case len(bytes.TrimSpace(out)) > 0:
		// ClickHouse answers INSERT and CREATE with an empty body: this
		// is something else at the URL (a proxy's or a portal's page),
		// which did not store the rows. Held like a wrong URL.
		err := &forward.StatusError{Code: 200, Body: fmt.Sprintf("a body where ClickHouse answers none (not ClickHouse at this URL?): %.300s",
			s.retry.Secrets.Redact(string(out))), Whole: true}
		s.target.Observe(err)
		return err
	}
	return nil
}

// requestCodes are ClickHouse exception codes about the user, its
// grants, the table or the statement (the configuration, or a table
// created by another version with other columns), not about a row: an
// INSERT refused with one holds its rows like a 401, whatever the HTTP
// status (old servers give 500, current ones 400 or 404).
var requestCodes = map[string]bool{
	"16": true, "47": true, "60": true, "62": true, "81": true, "115": true, "164": true, "192": true, "193": true,
	"194": true, "242": true, "291": true, "497": true, "516": true,
}

// exceptionCode finds "Code: N." in a ClickHouse error body.
var exceptionCode = regexp.MustCompile(`Code: (\d+)`)

// refusesRequest implements forward.Retrier.Whole for ClickHouse's
// answers. "Unknown field found while parsing" (INCORRECT_DATA, also the
// code of rows it cannot parse) names a column the table lacks: every
// row would be refused, so it is the table, not the rows.
func refusesRequest(_ int, body []byte) bool {
	if bytes.Contains(body, []byte("Unknown field found while parsing")) {
		return true
	}
	m := exceptionCode.FindSubmatch(body)
	return m != nil && requestCodes[string(m[1])]
}

// Query runs query and returns the response body, for statements whose
// output the caller reads (tests, diagnostics).
func (s *Sink) Query(ctx context.Context, query string) ([]byte, error) {
	return s.query(ctx, query, nil)
}

func (s *Sink) query(ctx context.Context, query string, body []byte) ([]byte, error) {
	u := s.base + "?query=" + url.QueryEscape(query)
	return s.retry.Do(ctx, s.client, func(ctx context.Context) (*http.Request, error) {
		var rd *bytes.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		} else {
			rd = bytes.NewReader(nil)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, rd)
		if err != nil {
			return nil, err
		}
		if s.cfg.Username != "" {
			req.SetBasicAuth(s.cfg.Username, s.cfg.Password.Value())
		}
		return req, nil
	})
}

// Name implements sink.Sink.
func (s *Sink) Name() string { return s.name }

// Unavailable implements sink.Availability.
func (s *Sink) Unavailable() error { return s.target.Unavailable() }

// Close implements sink.Sink.
func (s *Sink) Close() error {
	s.client.CloseIdleConnections()
	s.target.Close()
	return s.rejects.Close()
}

// Write implements sink.Sink: nil once every INSERT succeeded. An INSERT
// of fewer rows than ClickHouse's max_insert_block_size is all or
// nothing per day partition, so a failed chunk is reported whole (and
// may be inserted again: at-least-once). A chunk that fails makes it and
// every later one a *sink.PartialError. An INSERT refused for good (a 4xx
// from current servers: a row it cannot parse) is narrowed down by halves
// and only the refused rows are dead-lettered, all of a Write's in one
// go. An INSERT refused as a whole (401, 403, 404 or 407: the user, its
// grants, the table or the URL are wrong, not the rows) is retried.
func (s *Sink) Write(ctx context.Context, docs []sink.Doc) error {
	if err := s.setup(ctx); err != nil {
		return err
	}
	return s.rejects.Settle(ctx, docs, &s.refused, s.insertAll(ctx, docs))
}

// insertAll inserts docs in chunks; the rows refused for good go to
// s.refused.
func (s *Sink) insertAll(ctx context.Context, docs []sink.Doc) error {
	for start := 0; start < len(docs); {
		end := min(start+s.cfg.MaxBatchRows, len(docs))
		s.body, s.ends = s.body[:0], s.ends[:0]
		idx := make([]int, 0, end-start)
		for i := start; i < end; i++ {
			s.body = s.appendRow(s.body, docs[i])
			s.ends = append(s.ends, len(s.body))
			idx = append(idx, i-start)
		}
		err := forward.Narrow(idx, func(idx []int) error {
			// idx is a contiguous run of rows: its bytes are contiguous too.
			from := 0
			if idx[0] > 0 {
				from = s.ends[idx[0]-1]
			}
			return s.exec(ctx, s.insert, s.body[from:s.ends[idx[len(idx)-1]]])
		}, func(i int, err error) error { return s.refused.Add(start+i, err) })
		if err != nil {
			failed := make([]int, 0, len(docs)-start)
			for i := start; i < len(docs); i++ {
				failed = append(failed, i)
			}
			return &sink.PartialError{Failed: failed, Err: fmt.Errorf("insert into %s.%s: %w", s.cfg.Database, s.cfg.Table, err)}
		}
		start = end
	}
	return nil
}
