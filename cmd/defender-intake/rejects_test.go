package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/defender-intake/defender-intake/internal/deadletter"
)

// countingDeadLetters counts the writes (each one fsync for a file) and
// keeps the entries.
type countingDeadLetters struct {
	writes  int
	entries []deadletter.Entry
	closed  bool
}

func (c *countingDeadLetters) Write(_ context.Context, entries []deadletter.Entry) error {
	c.writes++
	c.entries = append(c.entries, entries...)
	return nil
}

func (c *countingDeadLetters) Close() error { c.closed = true; return nil }

// Bad lines are dead-lettered in batches, not one write and fsync each
// (a megabyte of short bad lines took five minutes through normalize
// --dead-letter), and every entry still arrives, in order, at close.
func TestRejectsWriteInBatches(t *testing.T) {
	const n = 10000
	dl := &countingDeadLetters{}
	r := &rejects{path: "dead.ndjson", open: func(string) (deadletter.Writer, error) { return dl, nil }}
	for i := range n {
		if err := r.add(context.Background(), "in.ndjson", i+1, "envelope", "bad", fmt.Appendf(nil, "junk %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.close(); err != nil {
		t.Fatal(err)
	}
	if dl.writes > n/1000 {
		t.Errorf("%d writes for %d dead letters, want at most %d", dl.writes, n, n/1000)
	}
	if len(dl.entries) != n || !dl.closed {
		t.Fatalf("%d entries written (closed %v), want %d", len(dl.entries), dl.closed, n)
	}
	for i, e := range dl.entries {
		if want := fmt.Sprintf("junk %d", i); string(e.Raw) != want {
			t.Fatalf("entry %d: raw %q, want %q", i, e.Raw, want)
		}
	}
}

// normalize and rules test write every pending dead letter before they
// exit.
func TestRejectsAreWrittenAtExit(t *testing.T) {
	var in bytes.Buffer
	const bad = 300
	for i := range bad {
		fmt.Fprintf(&in, "junk line %d\n", i)
	}
	for _, cmd := range []string{"normalize", "rules"} {
		t.Run(cmd, func(t *testing.T) {
			dead := filepath.Join(t.TempDir(), "dead.ndjson")
			args := []string{"--dead-letter", dead}
			run := normalizeCmd
			if cmd == "rules" {
				run = rulesCmd
				args = append([]string{"test"}, args...)
			}
			var stdout, stderr bytes.Buffer
			if code := run(args, bytes.NewReader(in.Bytes()), &stdout, &stderr); code != 1 {
				t.Fatalf("exit %d, want 1: %s", code, stderr.String())
			}
			raws := deadRaws(t, dead)
			if len(raws) != bad {
				t.Fatalf("%d dead letters, want %d", len(raws), bad)
			}
			for i, raw := range raws {
				if want := fmt.Sprintf("junk line %d", i); string(raw) != want {
					t.Fatalf("dead letter %d: %q, want %q", i, raw, want)
				}
			}
		})
	}
}
