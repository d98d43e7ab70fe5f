package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// smallDocs makes n small documents in time order starting at event i0.
func smallDocs(i0, n int) []Doc {
	docs := make([]Doc, n)
	for i := range docs {
		ts := t0.Add(time.Duration(i0+i) * time.Second)
		docs[i] = Doc{JSON: fmt.Appendf(nil, `{"@timestamp":%q,"host":{"name":"h%d"},"message":"event %d"}`, ts.Format(time.RFC3339), (i0+i)%50, i0+i)}
	}
	return docs
}

// setCommitHook installs hook for the test (before Open).
func setCommitHook(t *testing.T, hook func(rows int) error) {
	commitHook = hook
	t.Cleanup(func() { commitHook = nil })
}

// Events are committed one whole row group at a time, and the rest at
// Flush.
func TestLoaderCommitsWholeRowGroups(t *testing.T) {
	// However slowly this machine writes: only whole row groups, and the
	// rest at Flush (the timing is TestMustLoadNow's).
	every, wait := loadEvery, maxLoadWait
	loadEvery, maxLoadWait = time.Hour, time.Hour
	t.Cleanup(func() { loadEvery, maxLoadWait = every, wait })
	var mu sync.Mutex
	var commits []int
	setCommitHook(t, func(rows int) error {
		mu.Lock()
		commits = append(commits, rows)
		mu.Unlock()
		return nil
	})
	ctx := context.Background()
	s, err := Open(ctx, Config{Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 2*rowGroupSize + 5000
	for i := 0; i < n; i += 10_000 {
		if err := s.Write(ctx, smallDocs(i, min(10_000, n-i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := fmt.Sprint(commits)
	mu.Unlock()
	if want := fmt.Sprint([]int{rowGroupSize, rowGroupSize, 5000}); got != want {
		t.Errorf("commits of %s rows, want %s", got, want)
	}
	var rows, distinct int
	if err := s.db.QueryRow(`SELECT count(*), count(DISTINCT id) FROM events`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != n || distinct != n {
		t.Errorf("%d events, %d distinct ids; want %d", rows, distinct, n)
	}
	if seqs, _ := segments(s.cfg.Dir); len(seqs) != 1 {
		t.Errorf("ingest log segments left after everything was loaded: %v", seqs)
	}
}

// A commit that fails loses nothing: the loader reads the events again
// from the ingest log and commits them once.
func TestLoaderRetriesAFailedCommit(t *testing.T) {
	var mu sync.Mutex
	failures := 1
	setCommitHook(t, func(int) error {
		mu.Lock()
		defer mu.Unlock()
		if failures > 0 {
			failures--
			return errors.New("disk on fire")
		}
		return nil
	})
	ctx := context.Background()
	s, err := Open(ctx, Config{Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 3000; i += 1000 {
		if err := s.Write(ctx, smallDocs(i, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		err := s.Flush(fctx)
		if err == nil {
			break
		}
		if fctx.Err() != nil {
			t.Fatalf("not loaded after a failed commit: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	if failures != 0 {
		t.Error("no commit failed")
	}
	mu.Unlock()
	if err := s.Write(ctx, smallDocs(3000, 1000)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var rows, distinct int
	var maxID uint64
	if err := s.db.QueryRow(`SELECT count(*), count(DISTINCT id), max(id) FROM events`).Scan(&rows, &distinct, &maxID); err != nil {
		t.Fatal(err)
	}
	if rows != 4000 || distinct != 4000 || maxID != 4000 {
		t.Errorf("%d events, %d distinct ids, last id %d; want 4000 of each", rows, distinct, maxID)
	}
	e, err := s.Get(ctx, 1)
	if err != nil || e.Message != "event 0" {
		t.Errorf("first event after the retry: %+v, %v", e, err)
	}
	if seqs, _ := segments(s.cfg.Dir); len(seqs) != 1 {
		t.Errorf("ingest log segments left after everything was loaded: %v", seqs)
	}
}

// The open load is committed before its row group is full only once no
// commit is in flight, and then when Flush waits, when its events come
// too slowly to fill a row group within maxLoadDelay, or when its oldest
// event has waited maxLoadWait.
func TestMustLoadNow(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name       string
		rows       int
		age        time.Duration
		committing bool
		flush      bool
		want       bool
	}{
		{"young load", 100, 500 * time.Millisecond, false, false, false},
		{"one write a second ago", 100, 1100 * time.Millisecond, false, false, true},
		{"slow feed after a second", 5000, 1100 * time.Millisecond, false, false, true},
		{"fast feed fills the row group", 60_000, 1500 * time.Millisecond, false, false, false},
		{"fast feed, commit in flight", 60_000, 3 * time.Second, true, false, false},
		{"slow feed, commit in flight", 5000, 3 * time.Second, true, false, false},
		{"flush waits", 10, time.Millisecond, false, true, true},
		{"flush waits behind a commit", 10, time.Millisecond, true, true, false},
		{"waited too long", 120_000, maxLoadWait, false, false, true},
		{"feed just fast enough", rowGroupSize / 2, maxLoadDelay/2 - 200*time.Millisecond, false, false, false},
		{"feed just too slow", rowGroupSize / 2, maxLoadDelay/2 + 10*time.Millisecond, false, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Store{}
			s.ld = openLoad{rows: tc.rows, oldest: now.Add(-tc.age), upto: 100, handed: 50}
			if tc.committing {
				s.ld.committing = make(chan error)
			}
			if tc.flush {
				s.flushTo = 100
			}
			if got := s.mustLoadNow(); got != tc.want {
				t.Errorf("mustLoadNow = %v, want %v", got, tc.want)
			}
		})
	}
}
