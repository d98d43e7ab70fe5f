package store

import (
	"context"
	"math/rand/v2"
	"os"
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

// indexedStore opens a store in a temporary directory with blocks of 256
// ids, writes n generated events (specials among them) and waits for their
// word index and postings.
func indexedStore(t *testing.T, seed uint64, n int) *Store {
	t.Helper()
	smallBlocks(t, 8)
	s, err := Open(context.Background(), Config{Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	writeEvents(t, s, storetest.New(seed, t0, span), 0, n)
	waitPostings(t, s)
	return s
}

// waitPostings waits until every committed block has its filter and its
// postings.
func waitPostings(t testing.TB, s *Store) { waitPostingsFor(t, s, time.Minute) }

func waitPostingsFor(t testing.TB, s *Store, timeout time.Duration) {
	t.Helper()
	// Blocks before the first event left were emptied by retention.
	var first uint64
	if err := s.db.QueryRow("SELECT coalesce(min(id), 1) FROM events").Scan(&first); err != nil {
		t.Fatal(err)
	}
	waitBlocks(t, s, timeout, first, "postings", func(b uint64) bool { return s.words.has(b) && s.words.postingsWritten(b) })
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
