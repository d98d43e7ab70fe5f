package store

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/defender-intake/defender-intake/internal/query"
	"github.com/defender-intake/defender-intake/internal/store/storetest"
)

// TestPostingsFileRoundTrip writes postings of random words and reads back
// every word's rows, the rows present and their timestamps.
func TestPostingsFileRoundTrip(t *testing.T) {
	smallBlocks(t, 10)
	slots := slotsPerBlock()
	rng := rand.New(rand.NewPCG(3, 4))
	var acc postingsAccum
	want := map[uint64]map[int]bool{}
	ts := map[int]int64{}
	// Words from very common (bitmaps) to single (left out); rows 0-99
	// stay absent, as after a restart.
	words := make([]uint64, 3000)
	for i := range words {
		words[i] = rng.Uint64() >> 1
	}
	var minTS, maxTS int64
	for r := 100; r < slots; r++ {
		t := int64(1_700_000_000_000_000) + int64(rng.IntN(1_000_000_000)) - 500_000_000
		if r == 100 || t < minTS {
			minTS = t
		}
		maxTS = max(maxTS, t)
		ts[r] = t
		acc.note(r, t)
		var keys []uint64
		for i, w := range words {
			if rng.IntN(i+1) == 0 || (i == 7 && r%2 == 0) {
				keys = append(keys, w, w) // a word twice in a record
			}
		}
		keys = append(keys, rng.Uint64()|1<<63) // a pair key: not a word
		acc.addWords(r, keys)
		for _, k := range keys {
			if int64(k) >= 0 {
				if want[k] == nil {
					want[k] = map[int]bool{}
				}
				want[k][r] = true
			}
		}
	}
	id := [16]byte{9}
	dir := t.TempDir()
	w := &wordIndex{dir: dir, storeID: id, posts: newPostingsSet()}
	if err := os.WriteFile(w.postingsPath(5), encodePostings(5, id, &acc, minTS, maxTS), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := w.openPostings(5)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.minTS != minTS || p.maxTS != maxTS || p.present != slots-100 {
		t.Fatalf("header: %d %d %d", p.minTS, p.maxTS, p.present)
	}
	listed := 0
	for k, rows := range want {
		m, found, err := p.rows(k)
		if err != nil {
			t.Fatal(err)
		}
		if found != (len(rows) >= 2) {
			t.Fatalf("word in %d rows: found %v", len(rows), found)
		}
		if !found {
			continue
		}
		listed++
		if m.count() != len(rows) {
			t.Fatalf("word in %d rows: %d read", len(rows), m.count())
		}
		for r := range rows {
			if !m.has(r) {
				t.Fatalf("row %d missing", r)
			}
		}
	}
	if listed < fenceEvery*3 {
		t.Fatalf("only %d words listed: the fence is not exercised", listed)
	}
	for _, k := range []uint64{0, 1<<63 - 1, rng.Uint64() >> 1} {
		if _, found, _ := p.rows(k); found && len(want[k]) < 2 {
			t.Fatalf("absent word %x found", k)
		}
	}
	present, err := p.presentRows()
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.timestamps(present)
	if err != nil {
		t.Fatal(err)
	}
	for r := 0; r < slots; r++ {
		if present.has(r) != (r >= 100) || got[r] != ts[r] {
			t.Fatalf("row %d: present %v, ts %d, want %d", r, present.has(r), got[r], ts[r])
		}
	}
	// Another block's or database's file, or a torn one, is refused.
	if _, err := readPostingsHeader(p.f, 6, id); err == nil {
		t.Fatal("postings of block 5 read as block 6's")
	}
	if _, err := readPostingsHeader(p.f, 5, [16]byte{1}); err == nil {
		t.Fatal("postings of another database accepted")
	}
	if err := os.Truncate(w.postingsPath(5), 2000); err != nil {
		t.Fatal(err)
	}
	if _, err := w.openPostings(5); err == nil {
		t.Fatal("torn postings accepted")
	}
}

// waitPostings waits until every committed block has its filter and its
// postings.
func waitPostings(t testing.TB, s *Store) { waitPostingsFor(t, s, time.Minute) }

func waitPostingsFor(t testing.TB, s *Store, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var minID uint64
	if err := s.db.QueryRow("SELECT coalesce(min(id), 1) FROM events").Scan(&minID); err != nil {
		t.Fatal(err)
	}
	for {
		s.mu.Lock()
		loaded := s.loadedID
		s.mu.Unlock()
		missing := 0
		for b := blockOf(minID); ; b++ {
			if _, hi := blockIDs(b); hi > loaded {
				break
			}
			if !s.words.has(b) || s.words.needsPostings(b) {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d blocks still without postings", missing)
		}
		s.kickIndexer()
		time.Sleep(20 * time.Millisecond)
	}
}

// fullScanHistogram counts matches per bucket reading every record.
func fullScanHistogram(t *testing.T, s *Store, f Filter, n int) []int64 {
	t.Helper()
	width := niceWidth(f.To.Sub(f.From) / time.Duration(n))
	start := f.From.UTC().Truncate(width)
	where, args := f.where()
	rows, err := s.db.Query("SELECT ((epoch_us(ts) - ?) // ?)::BIGINT AS b, count(*) FROM events WHERE "+where+" GROUP BY b",
		append([]any{start.UnixMicro(), width.Microseconds()}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := make([]int64, int((f.To.Sub(start)+width-1)/width))
	for rows.Next() {
		var b, c int64
		if err := rows.Scan(&b, &c); err != nil {
			t.Fatal(err)
		}
		out[b] = c
	}
	return out
}

// checkWordsOnly compares totals and histograms of words-only queries with
// a full scan, and returns per query the blocks the postings answered in
// the first range.
func checkWordsOnly(t *testing.T, s *Store, queries []string, ranges [][2]time.Time) (answered map[string]int) {
	answered = map[string]int{}
	t.Helper()
	ctx := context.Background()
	for _, q := range queries {
		for _, r := range ranges {
			f := Filter{Where: compile(t, s, q), From: r[0], To: r[1]}
			if f.Where.WordsOnly == nil && f.Where.Split == nil {
				t.Fatalf("%q has no words-only part", q)
			}
			want := unnarrowedTotal(t, s, f)
			p, err := s.Search(ctx, f, 10, "")
			if err != nil {
				t.Fatal(err)
			}
			if p.Total != want {
				t.Errorf("%q in %s–%s: total %d, a full scan counts %d", q, r[0], r[1], p.Total, want)
			}
			for _, n := range []int{1, 7, 40, 500} {
				got, _, err := s.Histogram(ctx, f, n)
				if err != nil {
					t.Fatal(err)
				}
				for i, b := range fullScanHistogram(t, s, f, n) {
					if got[i].Count != b {
						t.Fatalf("%q in %s–%s, %d buckets: bucket %d counts %d, a full scan %d", q, r[0], r[1], n, i, got[i].Count, b)
					}
				}
			}
			if r == ranges[0] {
				bk := buckets{from: f.From.UnixMicro(), to: f.To.UnixMicro(), start: f.From.UnixMicro(), width: 1 << 62, counts: make([]int64, 1)}
				_, answered[q], _, _ = s.countExact(context.Background(), f, &bk)
			}
		}
	}
	return answered
}

var wordsOnlyQueries = []string{
	"certutil", "CERTUTIL", "ws0042", "NOT certutil", "certutil -ws0003", "ws0001 OR ws0002",
	"bypass AND ws0001", "nosuchword", "nosuchword OR certutil", "mimikatz", "(certutil OR whoami) -bypass",
	"-nosuchword", "alice", "mimikatz OR ws0007", "certutil OR bypass", "certutil -bypass",
}

func TestWordsOnlyCountsFromPostingsMatchAFullScan(t *testing.T) {
	smallBlocks(t, 8)
	s, err := Open(context.Background(), Config{Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeEvents(t, s, storetest.New(4, t0, span), 0, 3000)
	waitPostings(t, s)
	ranges := [][2]time.Time{
		{t0, t0.Add(span)},
		{t0.Add(span - 24*time.Hour), t0.Add(span)},
		{t0.Add(37*time.Hour + 17*time.Minute), t0.Add(101*time.Hour + 3*time.Second)},
		{t0.Add(-time.Hour), t0.Add(span + time.Hour)},
	}
	answered := checkWordsOnly(t, s, wordsOnlyQueries, ranges)
	complete := 3000 >> indexBlockShift // 11 blocks; the 12th is the tail
	for _, q := range []string{"certutil", "NOT certutil", "certutil OR bypass", "certutil -bypass", "-nosuchword"} {
		if answered[q] != complete {
			t.Errorf("%q: the postings answered %d of %d blocks", q, answered[q], complete)
		}
	}
	// The filters rule out the blocks without mimikatz; it is in one
	// record of two blocks, which the postings leave to SQL.
	for _, q := range []string{"mimikatz", "nosuchword"} {
		if answered[q] != 0 {
			t.Errorf("%q: the postings answered %d blocks, want none", q, answered[q])
		}
	}
}

// Words with other conditions: SQL finds the rows of the rest, the
// postings keep those with the words.
var splitQueries = []string{
	"certutil host.name:ws0042", "certutil -bypass user.name:alice", "NOT certutil event.dataset:test",
	"certutil _exists_:user.name", "mimikatz event.dataset:test", "(certutil OR whoami) host.name:ws00*",
	"nosuchword user.name:alice", `certutil "203.0.113.7"`,
}

func TestSplitQueriesCountedWithPostingsMatchAFullScan(t *testing.T) {
	smallBlocks(t, 8)
	s, err := Open(context.Background(), Config{Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeEvents(t, s, storetest.New(5, t0, span), 0, 3000)
	waitPostings(t, s)
	ranges := [][2]time.Time{
		{t0, t0.Add(span)},
		{t0.Add(37*time.Hour + 17*time.Minute), t0.Add(101*time.Hour + 3*time.Second)},
	}
	answered := checkWordsOnly(t, s, splitQueries, ranges)
	complete := 3000 >> indexBlockShift
	for _, q := range []string{"certutil host.name:ws0042", "certutil -bypass user.name:alice", "certutil _exists_:user.name"} {
		if answered[q] != complete {
			t.Errorf("%q: the postings answered %d of %d blocks", q, answered[q], complete)
		}
	}
}

func TestPostingsAfterRetentionAndRebuild(t *testing.T) {
	smallBlocks(t, 8)
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Config{Dir: dir, MaxAge: 24 * time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := storetest.New(8, t0, span)
	g.Step = time.Minute
	writeEvents(t, s, g, 0, 2000)
	waitPostings(t, s)
	// Deletes the events before t0+900m: block 3 (ids 769-1024) loses
	// part of its rows.
	if _, err := s.Retain(ctx, t0.Add(900*time.Minute+24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.words.postingsPath(3)); err == nil {
		t.Fatal("the postings of a block retention cut into were kept")
	}
	all := [][2]time.Time{{t0, t0.Add(span)}, {t0.Add(850 * time.Minute), t0.Add(1100 * time.Minute)}}
	checkWordsOnly(t, s, wordsOnlyQueries, all)
	waitPostings(t, s) // rebuilt from the rows left
	if _, err := os.Stat(s.words.postingsPath(3)); err != nil {
		t.Fatal("the postings of block 3 were not rebuilt:", err)
	}
	checkWordsOnly(t, s, wordsOnlyQueries, all)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A store made before postings: filters but no postings files.
	files, _ := filepath.Glob(filepath.Join(dir, indexDirName, "*"+postingsExt))
	if len(files) == 0 {
		t.Fatal("no postings files")
	}
	for _, f := range files {
		os.Remove(f)
	}
	s, err = Open(ctx, Config{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitPostings(t, s)
	if n := checkWordsOnly(t, s, wordsOnlyQueries, all)["certutil"]; n != 4 { // blocks 3-6
		t.Fatalf("rebuilt postings answered certutil in %d blocks, want 4", n)
	}
}

// BenchmarkPostings measures what postings cost per event at ingest:
// collecting the words of a block's records and encoding its file. The
// baseline adds the same keys to the block's Bloom filter (the word index
// before postings).
func BenchmarkPostings(b *testing.B) {
	g := storetest.New(42, largeFrom, largeSpan)
	slots := slotsPerBlock()
	keys := make([][]uint64, slots)
	for i := range keys {
		j, _ := g.Next()
		keys[i] = query.AppendWordKeys(nil, fastjson.GetString(j, "message"))
	}
	b.Run("baseline-bloom", func(b *testing.B) {
		for b.Loop() {
			a := newBlockAccum(0)
			for r, k := range keys {
				a.note(uint64(r+1), int64(r))
				a.addKeys(k)
			}
			_ = a.bits.folded()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*slots), "ns/event")
	})
	b.Run("postings", func(b *testing.B) {
		b.ReportAllocs()
		var size int
		w := &wordIndex{posts: newPostingsSet()}
		for b.Loop() {
			a := &blockAccum{posts: w.newPostingsAccum()}
			for r, k := range keys {
				a.posts.note(r, int64(r))
				a.posts.addWords(r, k)
			}
			size = len(encodePostings(0, [16]byte{}, &a.posts, 0, int64(slots)))
			w.recycle(a)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*slots), "ns/event")
		b.ReportMetric(float64(size)/float64(slots), "bytes/event")
	})
}

// TestTopValuesWithPostings compares the top values the postings give with
// those of SQL alone, for words-only and split queries, over typed, list,
// numeric and JSON fields (whose values are counted in the newest matches).
func TestTopValuesWithPostings(t *testing.T) {
	smallBlocks(t, 8)
	ctx := context.Background()
	s, err := Open(ctx, Config{Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeEvents(t, s, storetest.New(6, t0, span), 0, 3000)
	waitPostings(t, s)
	fields := []string{"user.name", "host.name", "event.category", "destination.port", "process.pid"}
	queries := []string{"certutil", "NOT certutil", "certutil host.name:ws00*", "bypass -whoami", "mimikatz", "nosuchword"}
	for _, q := range queries {
		for _, field := range fields {
			f := Filter{Where: compile(t, s, q), From: t0.Add(13 * time.Hour), To: t0.Add(span - 5*time.Hour)}
			col, ok := s.Catalog().Column(field)
			if !ok {
				t.Fatalf("no field %s", field)
			}
			got, err := s.TopValues(ctx, field, f, 5)
			if err != nil {
				t.Fatal(err)
			}
			expr := col.Expr
			if col.Kind == query.KeywordList {
				expr = "unnest(" + expr + ")"
			} else if col.Kind != query.Keyword && col.Kind != query.Text {
				expr = "CAST(" + expr + " AS VARCHAR)"
			}
			want, err := s.topSQL(ctx, field, col, expr, f, 5)
			if err != nil {
				t.Fatal(err)
			}
			if (got.Sample != 0) != TopIsSampled(col) || !slices.Equal(got.Values, want) {
				t.Errorf("%q, %s: %v (sample %d), SQL alone gives %v", q, field, got.Values, got.Sample, want)
			}
		}
	}
}
