package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/query"
)

// A query whose context ends is interrupted inside DuckDB, not only
// abandoned by Go: on 16 row groups of events, the histogram and the
// total stop after a fraction of the CPU time the whole query takes
// (DuckDB notices an interrupt between row groups).
func TestQueryInterruptedInsideDuckDB(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 2 million rows")
	}
	ctx := context.Background()
	s, err := Open(ctx, Config{Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const rows = 16 * 122_880
	if _, err := s.db.ExecContext(ctx, `INSERT INTO events (id, ts, ingested, doc, message)
		SELECT i + 1, TIMESTAMP '2024-03-01' + to_microseconds(i * 1000), TIMESTAMP '2024-03-01', '{}',
		       repeat('abcdefghij klmnop ', 15) || i::VARCHAR
		FROM range(?) t(i)`, rows); err != nil {
		t.Fatal(err)
	}
	c := &query.Compiler{Catalog: s.Catalog(), Now: func() time.Time { return t0 }}
	where, err := c.Compile("*zq?1* OR *zq?2* OR *zq?3* OR *zq?4*")
	if err != nil {
		t.Fatal(err)
	}
	f := Filter{Where: where, From: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC)}
	run := func(name string, timeout time.Duration, q func(ctx context.Context) error) time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		c0 := processCPU()
		err := q(ctx)
		used := processCPU() - c0
		if timeout < time.Minute && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s with a %s timeout: %v", name, timeout, err)
		}
		if timeout == time.Hour && err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return used
	}
	for _, tc := range []struct {
		name string
		q    func(ctx context.Context) error
	}{
		{"histogram", func(ctx context.Context) error { _, _, err := s.Histogram(ctx, f, 60); return err }},
		{"total", func(ctx context.Context) error { _, err := s.SearchPage(ctx, f, 10, "", true); return err }},
	} {
		full := run(tc.name, time.Hour, tc.q)
		cut := run(tc.name, 100*time.Millisecond, tc.q)
		t.Logf("%s: %s of CPU in full, %s when interrupted after 100 ms", tc.name, full, cut)
		if cut > full/2 {
			t.Errorf("%s: interrupted after 100 ms it still used %s of CPU, the whole query %s: DuckDB went on", tc.name, cut, full)
		}
	}
}
