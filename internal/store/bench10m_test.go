package store

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/query"
	"github.com/defender-intake/defender-intake/internal/store/storetest"
)

// The large-store benchmarks need a store of STORE_BENCH_EVENTS (default
// 10 million) generated events over 30 days. It is built once, on the first
// `go test -bench Large`, into STORE_BENCH_DIR (default the user cache
// directory), never in the repository and never by plain `go test`.
var (
	largeFrom = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	largeSpan = 30 * 24 * time.Hour
)

func largeStore(b *testing.B) *Store {
	b.Helper()
	n := 10_000_000
	if v, err := strconv.Atoi(os.Getenv("STORE_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	dir := os.Getenv("STORE_BENCH_DIR")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			b.Fatal(err)
		}
		dir = filepath.Join(cache, "defender-intake-bench", "events-"+strconv.Itoa(n))
	}
	ctx := context.Background()
	marker := filepath.Join(dir, "complete")
	if _, err := os.Stat(marker); err != nil {
		os.RemoveAll(dir)
		b.Logf("building a %d-event store in %s (once)", n, dir)
		start := time.Now()
		s, err := Open(ctx, Config{Dir: dir}, nil)
		if err != nil {
			b.Fatal(err)
		}
		g := storetest.New(42, largeFrom, largeSpan)
		g.Step = largeSpan / time.Duration(n)
		batch := make([]Doc, 0, 10_000)
		for i := 0; i < n; i++ {
			j, _ := g.Next()
			batch = append(batch, Doc{JSON: j})
			if len(batch) == cap(batch) || i == n-1 {
				if err := s.Write(ctx, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.Logf("built in %s", time.Since(start).Round(time.Second))
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	s, err := Open(ctx, Config{Dir: dir}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	// A store built before the word index gets it in the background, as
	// a user's upgraded store does; searches are measured with it.
	start := time.Now()
	waitIndexedFor(b, s, time.Hour)
	waitPostingsFor(b, s, time.Hour)
	if d := time.Since(start); d > time.Second {
		b.Logf("word index built for the existing events in %s", d.Round(time.Second))
	}
	return s
}

// BenchmarkLarge measures the Events page's queries on the large store. The
// baseline is a bare count(*) over the same 7 days (the least any query
// must do), so each result also reads as a ratio to it.
func BenchmarkLarge(b *testing.B) {
	s := largeStore(b)
	ctx := context.Background()
	end := largeFrom.Add(largeSpan)
	week := Filter{From: end.Add(-7 * 24 * time.Hour), To: end}
	month := Filter{From: largeFrom, To: end}
	compile := func(q string) query.SQL {
		sql, err := (&query.Compiler{Catalog: s.Catalog()}).Compile(q)
		if err != nil {
			b.Fatal(err)
		}
		return sql
	}
	with := func(f Filter, q string) Filter { f.Where = compile(q); return f }
	st, err := s.Stats(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d events, %d bytes on disk, %.0f bytes/event (word index %.1f bytes/event, of which postings %.1f)", st.Events, st.Bytes,
		float64(st.Bytes)/float64(st.Events), float64(s.words.size())/float64(st.Events), float64(s.words.posts.size())/float64(st.Events))

	b.Run("baseline-count-7d", func(b *testing.B) {
		for b.Loop() {
			var n int64
			if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM events WHERE ts >= ? AND ts < ?", week.From, week.To).Scan(&n); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The page asks for the first page without a total (the histogram
	// brings it); the API's default also counts.
	b.Run("first-page-field-filter-7d", func(b *testing.B) {
		f := with(week, "host.name:ws0042 AND process.name:cmd.exe")
		for b.Loop() {
			p, err := s.SearchPage(ctx, f, 50, "", false)
			if err != nil || len(p.Events) == 0 {
				b.Fatal(err, len(p.Events))
			}
		}
	})
	b.Run("first-page-and-total-field-filter-7d", func(b *testing.B) {
		f := with(week, "host.name:ws0042 AND process.name:cmd.exe")
		for b.Loop() {
			p, err := s.Search(ctx, f, 50, "")
			if err != nil || len(p.Events) == 0 {
				b.Fatal(err, len(p.Events))
			}
		}
	})
	b.Run("first-page-field-filter-24h", func(b *testing.B) {
		f := with(Filter{From: end.Add(-24 * time.Hour), To: end}, "user.name:alice")
		for b.Loop() {
			if _, err := s.SearchPage(ctx, f, 50, "", false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("histogram-all-30d", func(b *testing.B) {
		f := with(month, "")
		for b.Loop() {
			if _, _, err := s.Histogram(ctx, f, 80); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("histogram-field-filter-30d", func(b *testing.B) {
		f := with(month, "process.name:powershell.exe")
		for b.Loop() {
			if _, _, err := s.Histogram(ctx, f, 80); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("top-values-7d", func(b *testing.B) {
		f := with(week, "")
		for b.Loop() {
			if _, err := s.Top(ctx, "user.name", f, 10); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("top-values-json-field-7d", func(b *testing.B) {
		f := with(week, "event.dataset:device_network_events")
		for b.Loop() {
			if _, err := s.Top(ctx, "microsoft.defender.report.id", f, 10); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare-word-first-page-30d", func(b *testing.B) {
		f := with(month, "certutil")
		for b.Loop() {
			p, err := s.SearchPage(ctx, f, 50, "", false)
			if err != nil || len(p.Events) == 0 {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare-word-rare-first-page-30d", func(b *testing.B) {
		f := with(month, `"203.0.113.77"`)
		for b.Loop() {
			if _, err := s.SearchPage(ctx, f, 50, "", false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare-word-rare-mixed-case-first-page-30d", func(b *testing.B) {
		f := with(month, "MimiKatz")
		for b.Loop() {
			if _, err := s.SearchPage(ctx, f, 50, "", false); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The page also asks for the histogram (which brings the total) and
	// the API for the total: both count every match of the range.
	for _, q := range []string{"MimiKatz", `"198.51.100.23"`, "certutil"} {
		b.Run("bare-word-total-30d/"+q, func(b *testing.B) {
			f := with(month, q)
			for b.Loop() {
				if _, err := s.Search(ctx, f, 50, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("bare-word-histogram-30d/"+q, func(b *testing.B) {
			f := with(month, q)
			for b.Loop() {
				if _, _, err := s.Histogram(ctx, f, 80); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// A common word with a field filter (SQL reads the raw records of the
	// filter's rows only), and the sidebar's top values of a common word.
	b.Run("bare-word-and-field-total-30d", func(b *testing.B) {
		f := with(month, "certutil host.name:ws0042")
		for b.Loop() {
			if _, err := s.Search(ctx, f, 50, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("top-values-bare-word-30d", func(b *testing.B) {
		f := with(month, "certutil")
		for b.Loop() {
			if _, err := s.Top(ctx, "user.name", f, 10); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Inside words: what bare words did before the word index, reading
	// every raw record.
	b.Run("inside-words-first-page-30d", func(b *testing.B) {
		f := with(month, "message:MimiKatz")
		for b.Loop() {
			if _, err := s.SearchPage(ctx, f, 50, "", false); err != nil {
				b.Fatal(err)
			}
		}
	})
}
