package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A directory given where a command reads a FILE is refused before
// anything is read or created, with status 2 and a message naming it;
// never read as "0 documents" or failed half way.
func TestDirectoryAsFileRefused(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "exports")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	// A real file in front of the directory: the refusal comes before it
	// is read.
	good := filepath.Join(dir, "good.json")
	writeFile(t, good, `{"time":"2026-11-20T10:00:00Z","category":"AdvancedHunting-DeviceInfo","properties":{"DeviceName":"ws1","Timestamp":"2026-11-20T10:00:00Z"}}`+"\n")
	emptyStore := filepath.Join(dir, "store")
	if err := os.MkdirAll(emptyStore, 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	cases := []struct {
		name string
		args []string
	}{
		{"normalize", []string{"normalize", good, in}},
		{"ingest", []string{"ingest", "--quiet", "--data", data, good, in}},
		{"rules test", []string{"rules", "test", good, in}},
		{"estimate", []string{"estimate", good, in}},
		{"serve --alerts", []string{"serve", "--data", emptyStore, "--alerts", in}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "serve --alerts" {
				writeFile(t, filepath.Join(emptyStore, "events.duckdb"), "")
			}
			var stdout, stderr bytes.Buffer
			code := dispatch(c.args, strings.NewReader(""), &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr:\n%s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), in+" is a directory") {
				t.Errorf("stderr does not say the directory: %q", stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q", stdout.String())
			}
		})
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("ingest created its data directory before refusing: %v", err)
	}
}
