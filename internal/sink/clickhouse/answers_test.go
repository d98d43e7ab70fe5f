package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

// A table made by another version, without a column the sink writes,
// refuses every row ("Unknown field found while parsing JSONEachRow",
// INCORRECT_DATA: 500 from old servers, 400 from current ones, where it
// dead-lettered every row one by one). It is the table, not the rows: they
// are held like a 401 until the column is added, then inserted once.
func TestTableWithoutAColumnHoldsRows(t *testing.T) {
	base := openSink(t, nil)
	old := base.cfg.Table + "_old"
	create := strings.Replace(createTable(base.cfg.Database, old), "  alert_id String,\n", "", 1)
	if err := base.exec(context.Background(), create, nil); err != nil {
		t.Fatal(err)
	}
	s := openSink(t, func(c *Config) { c.Table = old })
	docs := forwardtest.Docs(10, "old")
	err := s.Write(context.Background(), docs)
	if f := sink.FailedIndices(err, len(docs)); len(f) != len(docs) || !errors.Is(err, sink.ErrTargetUnavailable) {
		t.Fatalf("Write into a table without a column = %v, want all %d rows handed back, the target unavailable", err, len(docs))
	}
	if s.Unavailable() == nil {
		t.Error("Unavailable() = nil: the outage is not said")
	}
	if dl := forwardtest.DeadLetters(t, s.cfg.DeadLetter); len(dl) != 0 {
		t.Fatalf("%d rows dead-lettered for the table's columns", len(dl))
	}
	alter := fmt.Sprintf("ALTER TABLE `%s`.`%s` ADD COLUMN alert_id String AFTER email_from_address", base.cfg.Database, old)
	if err := base.exec(context.Background(), alter, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), docs); err != nil {
		t.Fatalf("Write once the column exists: %v", err)
	}
	if got := rows(t, s, "SELECT count() AS n FROM "+base.cfg.Database+"."+old); fmt.Sprint(got[0]["n"]) != "10" {
		t.Errorf("rows %v, want 10", got)
	}
	if s.Unavailable() != nil {
		t.Errorf("Unavailable() = %v once the rows are in", s.Unavailable())
	}
}

// An INSERT answered 200 whose body is an exception (sent after the
// status line, or by a proxy) is not a delivery: the rows are handed
// back, not counted stored.
func TestExceptionWith200IsNotDelivered(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if strings.HasPrefix(r.URL.Query().Get("query"), "INSERT") {
			io.WriteString(w, "Code: 241. DB::Exception: Memory limit (total) exceeded. (MEMORY_LIMIT_EXCEEDED)\n")
		}
	}))
	defer srv.Close()
	s := openSink(t, func(c *Config) { c.URL = srv.URL })
	docs := forwardtest.Docs(5, "ex")
	err := s.Write(context.Background(), docs)
	if f := sink.FailedIndices(err, len(docs)); len(f) != len(docs) {
		t.Fatalf("Write answered 200 with an exception = %v, want all %d rows handed back", err, len(docs))
	}
	if dl := forwardtest.DeadLetters(t, s.cfg.DeadLetter); len(dl) != 0 {
		t.Errorf("%d rows dead-lettered", len(dl))
	}
}

// Something other than ClickHouse at the URL (a proxy or portal answering
// 200 with its page) did not store the rows: they are held, as for a
// wrong URL, not counted delivered.
func TestPageWith200IsNotDelivered(t *testing.T) {
	var page atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if page.Load() {
			io.WriteString(w, "<html><body>Sign in to continue</body></html>")
		}
	}))
	defer srv.Close()
	s := openSink(t, func(c *Config) { c.URL = srv.URL })
	page.Store(true)
	docs := forwardtest.Docs(5, "page")
	err := s.Write(context.Background(), docs)
	if f := sink.FailedIndices(err, len(docs)); len(f) != len(docs) || !errors.Is(err, sink.ErrTargetUnavailable) {
		t.Fatalf("Write answered 200 with a page = %v, want all %d rows held, the target unavailable", err, len(docs))
	}
	if s.Unavailable() == nil {
		t.Error("Unavailable() = nil")
	}
	if dl := forwardtest.DeadLetters(t, s.cfg.DeadLetter); len(dl) != 0 {
		t.Errorf("%d rows dead-lettered", len(dl))
	}
}
