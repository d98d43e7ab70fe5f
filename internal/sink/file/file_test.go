package file

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// A crash can leave half a document at the end of the file. The next
// Open cuts it, so that the file stays valid NDJSON: the torn document was
// never acknowledged and is delivered again.
func TestTornLineCutAtOpen(t *testing.T) {
	long := strings.Repeat("x", 200<<10) // longer than one backwards read
	tests := []struct {
		name, before, want string
	}{
		{"torn tail", "{\"a\":1}\n{\"torn\":", "{\"a\":1}\n{\"b\":2}\n"},
		{"only a torn line", "{\"torn\":", "{\"b\":2}\n"},
		{"torn tail longer than a read", "{\"a\":1}\n{\"" + long, "{\"a\":1}\n{\"b\":2}\n"},
		{"complete lines are kept", "{\"a\":1}\n", "{\"a\":1}\n{\"b\":2}\n"},
		{"empty file", "", "{\"b\":2}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "ecs.ndjson")
			if err := os.WriteFile(p, []byte(tc.before), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open("f", Config{Path: p})
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(strings.LastIndex(tc.before, "\n") + 1); s.size != want {
				t.Errorf("size after open = %d, want %d", s.size, want)
			}
			if err := s.Write(context.Background(), []sink.Doc{{JSON: []byte(`{"b":2}`)}}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			b, _ := os.ReadFile(p)
			if string(b) != tc.want {
				t.Errorf("file = %.80q, want %.80q", b, tc.want)
			}
		})
	}
}

// A process killed with SIGKILL while it writes leaves at most a torn last
// line; after the next Open every line of the file is a JSON document and
// every acknowledged document is there.
func TestKilledWriterLeavesValidNDJSON(t *testing.T) {
	if p := os.Getenv("FILE_SINK_CRASH_CHILD"); p != "" {
		crashChild(p)
		return
	}
	p := filepath.Join(t.TempDir(), "ecs.ndjson")
	cmd := exec.Command(os.Args[0], "-test.run", "^TestKilledWriterLeavesValidNDJSON$")
	cmd.Env = append(os.Environ(), "FILE_SINK_CRASH_CHILD="+p)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Documents of 300 KB do not fit the sink's 256 KB buffer, so a kill
	// often lands between two write(2) calls of one document.
	acked := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, err := strconv.Atoi(sc.Text()); err == nil {
			acked = n
		}
		if acked >= 50 {
			break
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if acked < 50 {
		t.Fatalf("the child acknowledged %d documents", acked)
	}
	s, err := Open("f", Config{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("the file does not end with a newline after Open")
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for i, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("line %d is not JSON: %.60q", i+1, l)
		}
	}
	if len(lines) < acked {
		t.Errorf("%d documents in the file, %d were acknowledged", len(lines), acked)
	}
	t.Logf("%d acknowledged, %d complete lines", acked, len(lines))
}

// crashChild writes documents of 300 KB to the sink at path, printing the
// number acknowledged after every Write, until it is killed.
func crashChild(path string) {
	s, err := Open("f", Config{Path: path})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	doc := []byte(`{"message":"` + strings.Repeat("y", 300<<10) + `"}`)
	deadline := time.Now().Add(time.Minute)
	for i := 1; i <= 1000 && time.Now().Before(deadline); i++ {
		if err := s.Write(context.Background(), []sink.Doc{{JSON: doc}}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println(i)
	}
	os.Exit(3)
}

// Pruning deletes only this sink's rotated files: NAME-*.EXT also matches
// another sink's file beside it (ecs-high.ndjson), its rotated files, and
// files of the user, which were counted and deleted oldest first.
func TestPruneTouchesOnlyItsOwnFiles(t *testing.T) {
	dir := t.TempDir()
	others := []string{"ecs-high.ndjson", "ecs-high-20250101T000000.000000000Z.ndjson", "ecs-notes.ndjson", "ecs-2025.ndjson", "ecs-20250101T000000.000000000Z.ndjson.bak"}
	for _, o := range others {
		if err := os.WriteFile(filepath.Join(dir, o), []byte("{\"keep\":1}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open("f", Config{Path: filepath.Join(dir, "ecs.ndjson"), MaxSizeMB: 1, MaxFiles: 1})
	if err != nil {
		t.Fatal(err)
	}
	tick := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { tick = tick.Add(time.Second); return tick }
	doc := []byte(`{"message":"` + strings.Repeat("x", 100<<10) + `"}`)
	for i := 0; i < 40; i++ { // three rotations
		if err := s.Write(context.Background(), []sink.Doc{{JSON: doc}}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	for _, o := range others {
		if _, err := os.Stat(filepath.Join(dir, o)); err != nil {
			t.Errorf("%s: %v", o, err)
		}
	}
	own, _ := filepath.Glob(filepath.Join(dir, "ecs-2026*.ndjson"))
	if len(own) != 1 {
		t.Errorf("own rotated files %v, want the newest one", own)
	}
}
