package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/sink"
)

func TestRotation(t *testing.T) {
	tests := []struct {
		name      string
		maxSizeMB int
		maxFiles  int
		writes    int
		wantFiles int // including the current file
		wantLines int
	}{
		// ~100 KB per write: a 1 MB file rotates after 11 writes.
		{name: "no rotation", maxSizeMB: 0, writes: 30, wantFiles: 1, wantLines: 30},
		{name: "rotates and keeps all", maxSizeMB: 1, maxFiles: 0, writes: 30, wantFiles: 3, wantLines: 30},
		{name: "rotates and prunes the oldest", maxSizeMB: 1, maxFiles: 1, writes: 30, wantFiles: 2, wantLines: 30 - 11},
	}
	doc := []byte(`{"message":"` + strings.Repeat("x", 100<<10) + `"}`) // ~100 KB
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open("f", Config{Path: filepath.Join(dir, "ecs.ndjson"), MaxSizeMB: tc.maxSizeMB, MaxFiles: tc.maxFiles})
			if err != nil {
				t.Fatal(err)
			}
			tick := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			s.now = func() time.Time { tick = tick.Add(time.Second); return tick }
			for i := 0; i < tc.writes; i++ {
				if err := s.Write(context.Background(), []sink.Doc{{JSON: doc}}); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "ecs*.ndjson"))
			if len(files) != tc.wantFiles {
				t.Fatalf("files %v, want %d", files, tc.wantFiles)
			}
			lines := 0
			for _, f := range files {
				b, _ := os.ReadFile(f)
				lines += strings.Count(string(b), "\n")
			}
			if lines != tc.wantLines {
				t.Errorf("%d lines, want %d", lines, tc.wantLines)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Path: "x"}, ""},
		{Config{}, "path: required"},
		{Config{Path: "x", MaxSizeMB: -1}, "max_size_mb"},
		{Config{Path: "x", MaxFiles: -1}, "max_files"},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

// A crash can leave half a document at the end of the file; the next
// document must still start on its own line.
func TestTornLineAfterCrash(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ecs.ndjson")
	if err := os.WriteFile(p, []byte("{\"a\":1}\n{\"torn\":"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open("f", Config{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), []sink.Doc{{JSON: []byte(`{"b":2}`)}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	b, _ := os.ReadFile(p)
	if want := "{\"a\":1}\n{\"torn\":\n{\"b\":2}\n"; string(b) != want {
		t.Errorf("file = %q, want %q", b, want)
	}
}
