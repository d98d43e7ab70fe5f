package store

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/store/storetest"
)

// A crash leaves events in the ingest log that DuckDB does not have yet:
// Open must load exactly those, once, and ignore a torn last record.
func TestRecoveryFromIngestLog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Config{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := storetest.New(5, t0, span)
	var batch []Doc
	for range 100 {
		b, _ := g.Next()
		batch = append(batch, Doc{JSON: b})
	}
	if err := s.Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if seqs, _ := segments(dir); len(seqs) != 0 {
		t.Fatalf("segments left after a clean close: %v", seqs)
	}

	// What a crash could leave: records 99..105 (99 and 100 are in DuckDB
	// already) and half of record 106.
	var buf []byte
	for id := uint64(99); id <= 106; id++ {
		doc := fmt.Sprintf(`{"@timestamp":"2024-01-02T00:00:00Z","host":{"name":"crash-%d"},"message":"raw %d"}`, id, id)
		buf = appendLogRecord(buf, logRecord{id: id, ts: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), ingested: time.Now(), doc: []byte(doc)})
	}
	buf = buf[:len(buf)-20]
	if err := os.WriteFile(segmentName(dir, 7), buf, 0o640); err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, Config{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n, distinct, recovered int
	if err := s.db.QueryRow(`SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE host_name LIKE 'crash-%') FROM events`).Scan(&n, &distinct, &recovered); err != nil {
		t.Fatal(err)
	}
	if n != 105 || distinct != 105 || recovered != 5 {
		t.Errorf("after recovery: %d events, %d distinct ids, %d recovered; want 105, 105, 5", n, distinct, recovered)
	}
	e, err := s.Get(ctx, 105)
	if err != nil || e.Message != "raw 105" {
		t.Errorf("recovered event 105: %+v, %v", e, err)
	}
	// new ids continue after the recovered ones
	b, _ := g.Next()
	if err := s.Write(ctx, []Doc{{JSON: b}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, 106); err != nil {
		t.Errorf("id after recovery: %v", err)
	}
	if seqs, _ := segments(dir); len(seqs) != 1 {
		t.Errorf("recovered segments not removed: %v", seqs)
	}
}

// Write must return only after the batch is in the log on disk: a store
// that is never closed (a crash) still has it on the next Open.
func TestWriteIsInTheLogBeforeItReturns(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Config{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := storetest.New(6, t0, span)
	var batch []Doc
	for range 50 {
		b, _ := g.Next()
		batch = append(batch, Doc{JSON: b})
	}
	if err := s.Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	// Read the log as recovery would, without waiting for the loader: the
	// batch is either still in the log or already loaded into DuckDB.
	s.writeMu.Lock()
	logged := 0
	if _, err := replay(dir, func(r logRecord) error { logged++; return nil }); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	loaded := s.loadedID
	s.mu.Unlock()
	s.writeMu.Unlock()
	if logged+int(loaded) < 50 {
		t.Errorf("%d logged + %d loaded < 50 written", logged, loaded)
	}
	s.Close()
}
