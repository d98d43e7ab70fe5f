package store

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/query"
	"github.com/defender-intake/defender-intake/internal/store/storetest"
)

// fullScanHistogram counts matches per bucket reading every record.
func fullScanHistogram(t *testing.T, s *Store, f Filter, n int) []int64 {
	t.Helper()
	bk, _, _ := planBuckets(f.From, f.To, n)
	where, args := f.where()
	index, indexArgs := bk.sqlIndex()
	rows, err := s.db.Query("SELECT "+index+" AS b, count(*) FROM events WHERE "+where+" GROUP BY b",
		append(indexArgs, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := make([]int64, len(bk.counts))
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
	s := indexedStore(t, 4, 3000)
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
	s := indexedStore(t, 5, 3000)
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
	ctx := context.Background()
	dir := t.TempDir()
	s := minuteStore(t, dir, 8, 2000)
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
	s, err := Open(ctx, Config{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitPostings(t, s)
	if n := checkWordsOnly(t, s, wordsOnlyQueries, all)["certutil"]; n != 4 { // blocks 3-6
		t.Fatalf("rebuilt postings answered certutil in %d blocks, want 4", n)
	}
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

// TestRandomWordQueriesMatchAFullScan counts random trees of words (common,
// rare, once-per-block and absent ones, under AND, OR and NOT, alone or
// with a field condition) with the postings and with a full scan.
func TestRandomWordQueriesMatchAFullScan(t *testing.T) {
	s := indexedStore(t, 9, 2500)
	words := []string{"certutil", "powershell", "bypass", "whoami", "cmd", "exe", "alice", "ws0001", "ws0100",
		"mimikatz", "dumpcreds", "sekurlsa", "nosuchword", "CERTUTIL"}
	rng := rand.New(rand.NewPCG(11, 12))
	var tree func(depth int) string
	tree = func(depth int) string {
		if depth == 0 || rng.IntN(3) == 0 {
			w := words[rng.IntN(len(words))]
			if rng.IntN(4) == 0 {
				return "-" + w
			}
			return w
		}
		op := []string{" ", " OR ", " AND "}[rng.IntN(3)]
		q := "(" + tree(depth-1) + op + tree(depth-1) + ")"
		if rng.IntN(5) == 0 {
			q = "NOT " + q
		}
		return q
	}
	fields := []string{"", "", " host.name:ws00*", " user.name:alice", " event.dataset:test"}
	answered := 0
	for i := 0; i < 150; i++ {
		q := tree(3) + fields[rng.IntN(len(fields))]
		lo := t0.Add(time.Duration(rng.IntN(48)) * time.Hour)
		f := Filter{Where: compile(t, s, q), From: lo, To: lo.Add(time.Duration(1+rng.IntN(240)) * time.Hour)}
		want := unnarrowedTotal(t, s, f)
		got, err := s.count(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("%q: %d counted, a full scan finds %d", q, got, want)
		}
		bk := buckets{from: f.From.UnixMicro(), to: f.To.UnixMicro(), start: f.From.UnixMicro(), width: 1 << 62, counts: make([]int64, 1)}
		if _, n, _, _ := s.countExact(context.Background(), f, &bk); n > 0 {
			answered++
		}
	}
	if answered < 50 {
		t.Fatalf("the postings answered blocks of only %d queries in 150", answered)
	}
}
