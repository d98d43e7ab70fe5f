package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/store/storetest"
)

// smallBlocks makes index blocks of 2^shift ids, so that a few thousand
// events span many blocks.
func smallBlocks(t *testing.T, shift int) {
	t.Helper()
	old := indexBlockShift
	indexBlockShift = shift
	t.Cleanup(func() { indexBlockShift = old })
}

// waitIndexed waits until every committed block has a filter file.
func waitIndexed(t testing.TB, s *Store) { waitIndexedFor(t, s, time.Minute) }

func waitIndexedFor(t testing.TB, s *Store, timeout time.Duration) {
	t.Helper()
	waitBlocks(t, s, timeout, 1, "a word index", s.words.has)
}

// waitBlocks waits until ready holds for every committed block from the
// one of id first on.
func waitBlocks(t testing.TB, s *Store, timeout time.Duration, first uint64, what string, ready func(b uint64) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		loaded := s.loadedID
		s.mu.Unlock()
		missing := 0
		for b := blockOf(first); ; b++ {
			if _, hi := blockIDs(b); hi > loaded {
				break
			}
			if !ready(b) {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d blocks still without %s", missing, what)
		}
		s.kickIndexer()
		time.Sleep(20 * time.Millisecond)
	}
}

// rawDoc is an ECS document whose raw record is msg.
func rawDoc(ts time.Time, msg string) Doc {
	return Doc{JSON: fmt.Appendf(nil, `{"@timestamp":%q,"event":{"dataset":"test"},"message":%q}`, ts.Format(time.RFC3339Nano), msg)}
}

// special raw records, placed among generated events at these positions.
var specials = map[int]string{
	10:   `{"FileName":"mimikatz.exe","RemoteIP":"198.51.100.23"}`,
	700:  `{"ProcessCommandLine":"powershell Invoke-Mimikatz -DumpCreds"}`,
	1500: `{"ProcessCommandLine":"InvokeMimikatz sekurlsa::logonpasswords"}`,
	2900: `{"FileName":"mimikatz2.exe","Account":"ÉCOLE\\admin"}`,
}

// writeEvents writes n generated events (specials at their positions) from
// id first on, in batches of 100.
func writeEvents(t testing.TB, s *Store, g *storetest.Gen, first, n int) {
	t.Helper()
	ctx := context.Background()
	var batch []Doc
	for i := first; i < first+n; i++ {
		j, ts := g.Next()
		d := Doc{JSON: j}
		if msg, ok := specials[i]; ok {
			d = rawDoc(ts, msg)
		}
		batch = append(batch, d)
		if len(batch) == 100 || i == first+n-1 {
			if err := s.Write(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// unnarrowedTotal counts matches of q by reading every record (what the
// word index must never change).
func unnarrowedTotal(t *testing.T, s *Store, f Filter) int64 {
	t.Helper()
	where, args := f.where()
	var n int64
	if err := s.db.QueryRow("SELECT count(*) FROM events WHERE "+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBareWordsMatchWholeWordsThroughTheIndex(t *testing.T) {
	s := indexedStore(t, 3, 3000)
	ctx := context.Background()
	all := Filter{From: t0, To: t0.Add(span)}
	tests := []struct {
		q    string
		want []int // positions in specials (ids are positions + 1)
		// blocks: the most index blocks the search may read besides the tail
		blocks int
	}{
		{"mimikatz", []int{10, 700}, 2},
		{"MimiKatz", []int{10, 700}, 2},
		{`"Invoke-Mimikatz"`, []int{700}, 1},
		{`"198.51.100.23"`, []int{10}, 1},
		{`"sekurlsa::logonpasswords"`, []int{1500}, 1},
		{"école", []int{2900}, 1},
		{"mimikatz OR sekurlsa", []int{10, 700, 1500}, 3},
		{"mimikatz -dumpcreds", []int{10}, 2},
		{"katz", nil, 0},
		// Inside words: the substring search that bare words were before,
		// reading every record.
		{"message:mimikatz", []int{10, 700, 1500, 2900}, -1},
		{"*mimikatz*", []int{10, 700, 1500, 2900}, -1},
		{"message:katz", []int{10, 700, 1500, 2900}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			f := all
			f.Where = compile(t, s, tt.q)
			p, err := s.Search(ctx, f, 50, "")
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, e := range p.Events {
				got = append(got, int(e.ID)-1)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) || p.Total != int64(len(tt.want)) {
				t.Fatalf("found positions %v (total %d), want %v", got, p.Total, tt.want)
			}
			narrowed := s.narrow(f).Where.Where
			if tt.blocks < 0 {
				if narrowed != f.Where.Where {
					t.Fatalf("a search inside words cannot use the index, got %s", narrowed)
				}
				return
			}
			// Every id range but the open tail (id >= ?) is whole blocks.
			read := 0
			for _, r := range s.mustCandidates(t, f) {
				if r.hi != 0 {
					read += int((r.hi - r.lo + 1) >> indexBlockShift)
				}
			}
			if read > tt.blocks {
				t.Fatalf("the search reads %d blocks, want at most %d: %s", read, tt.blocks, narrowed)
			}
		})
	}
}

func (s *Store) mustCandidates(t *testing.T, f Filter) []idRange {
	t.Helper()
	r, narrowed, err := s.words.candidates(f.From, f.To, wordClauses(f.Where.Words), nil)
	if err != nil || !narrowed {
		t.Fatalf("candidates: narrowed=%v err=%v", narrowed, err)
	}
	return r
}

// TestWordIndexNeverChangesResults compares every kind of bare-word query,
// with the index, with a count that reads every record.
func TestWordIndexNeverChangesResults(t *testing.T) {
	s := indexedStore(t, 4, 3000)
	ctx := context.Background()
	queries := []string{
		"certutil", "CERTUTIL", "ws0042", `"203.0.113.7"`, `"cmd.exe /c whoami"`, "bypass AND ws0001",
		"ws0001 OR ws0002", "(certutil OR whoami) user.name:alice", "NOT certutil", "certutil -ws0003",
		"mimikatz", `"run.ps1"`, "nosuchword", "nosuchword OR certutil", "contoso host.name:ws00*",
	}
	for _, q := range queries {
		for _, within := range []time.Duration{span, 24 * time.Hour} {
			f := Filter{Where: compile(t, s, q), From: t0.Add(span - within), To: t0.Add(span)}
			want := unnarrowedTotal(t, s, f)
			p, err := s.Search(ctx, f, 10, "")
			if err != nil {
				t.Fatal(err)
			}
			buckets, _, err := s.Histogram(ctx, f, 20)
			if err != nil {
				t.Fatal(err)
			}
			var inBuckets int64
			for _, b := range buckets {
				inBuckets += b.Count
			}
			if p.Total != want || inBuckets != want || len(p.Events) != int(min(want, 10)) {
				t.Errorf("%q over %s: total %d, histogram %d, page %d; reading every record finds %d", q, within, p.Total, inBuckets, len(p.Events), want)
			}
		}
	}
}

func TestWordIndexBuiltForOlderEvents(t *testing.T) {
	smallBlocks(t, 8)
	dir := t.TempDir()
	ctx := context.Background()
	g := storetest.New(5, t0, span)
	s, err := Open(ctx, Config{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeEvents(t, s, g, 0, 800) // blocks 0-2 and 32 events of block 3
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A store made before the word index: no filter files at all.
	if err := os.RemoveAll(filepath.Join(dir, indexDirName)); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, Config{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Block 3 was started before the restart: it is indexed from DuckDB
	// once complete, with the words of position 700 written before.
	writeEvents(t, s, g, 800, 300)
	waitIndexed(t, s)
	for b := uint64(0); b < 4; b++ {
		if !s.words.has(b) {
			t.Fatalf("block %d has no word index", b)
		}
	}
	f := Filter{Where: compile(t, s, "dumpcreds"), From: t0, To: t0.Add(span)}
	p, err := s.Search(ctx, f, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != 1 || p.Events[0].ID != 701 {
		t.Fatalf("dumpcreds: %+v", p)
	}
	if got := s.narrow(f).Where.Where; !strings.Contains(got, "id BETWEEN") {
		t.Fatalf("the rebuilt index does not narrow the search: %s", got)
	}
}

func TestSearchWithoutTheWordIndexFilesStillFindsEverything(t *testing.T) {
	smallBlocks(t, 8)
	dir := t.TempDir()
	s, err := Open(context.Background(), Config{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeEvents(t, s, storetest.New(8, t0, span), 0, 1000)
	waitPostings(t, s) // nothing left to write in the directory
	// Files removed under a running store (by hand, or a full disk).
	if err := os.RemoveAll(filepath.Join(dir, indexDirName)); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"mimikatz", "dumpcreds"} {
		f := Filter{Where: compile(t, s, q), From: t0, To: t0.Add(span)}
		p, err := s.Search(context.Background(), f, 10, "")
		if err != nil {
			t.Fatal(err)
		}
		if want := unnarrowedTotal(t, s, f); p.Total != want || want == 0 {
			t.Fatalf("%s: total %d, reading every record finds %d", q, p.Total, want)
		}
	}
}

func TestWordIndexOfAnotherDatabaseIsIgnored(t *testing.T) {
	smallBlocks(t, 8)
	ctx := context.Background()
	a, b := t.TempDir(), t.TempDir()
	s, err := Open(ctx, Config{Dir: a}, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeEvents(t, s, storetest.New(6, t0, span), 0, 600)
	waitIndexed(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(a, indexDirName, "*.idx"))
	if len(files) != 2 {
		t.Fatalf("%d filter files, want 2", len(files))
	}
	// b: a new database given a's filters (say, a data directory put
	// together from two backups). Its own events have other words.
	if err := os.MkdirAll(filepath.Join(b, indexDirName), 0o750); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(b, indexDirName, filepath.Base(f)), data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	s, err = Open(ctx, Config{Dir: b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.words.has(0) || s.words.has(1) {
		t.Fatal("filters of another database were trusted")
	}
	if s.nextID != 0 {
		t.Fatalf("ids start after %d in an empty database", s.nextID)
	}
}

// minuteStore opens a store in dir keeping a day of events and writes n
// events, one per minute from t0 (event k at t0+k minutes, id k+1), in
// blocks of 256 ids.
func minuteStore(t *testing.T, dir string, seed uint64, n int) *Store {
	t.Helper()
	smallBlocks(t, 8)
	s, err := Open(context.Background(), Config{Dir: dir, MaxAge: 24 * time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := storetest.New(seed, t0, span)
	g.Step = time.Minute
	writeEvents(t, s, g, 0, n)
	return s
}

func TestRetentionDropsWordIndexOfDeletedEvents(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := minuteStore(t, dir, 7, 1200)
	waitIndexed(t, s)
	// Event n is at t0+n minutes: a day before t0+800m+24h deletes
	// events 1-799, so blocks 0-2 (ids 1-768) go and block 3 stays.
	if _, err := s.Retain(ctx, t0.Add(800*time.Minute+24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if s.words.has(2) || !s.words.has(3) {
		t.Fatalf("after retention: block 2 kept %v, block 3 kept %v", s.words.has(2), s.words.has(3))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, Config{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.nextID != 1200 {
		t.Fatalf("next id after reopen: %d", s.nextID)
	}
}
