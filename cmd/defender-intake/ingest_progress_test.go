package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// After the last byte is read, ingest's progress shows the finishing
// steps in order (storing, loading into DuckDB, indexing) instead of
// sitting at "100% ETA 0s" while they run; the last line says done.
func TestIngestProgressShowsFinishingPhases(t *testing.T) {
	var stdout, stderr bytes.Buffer
	data := filepath.Join(t.TempDir(), "data")
	if code := dispatch([]string{"ingest", "--data", data, filepath.Join("..", "..", "examples", "defender-sample.ndjson")}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("ingest: %d\n%s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	want := []string{"storing the last batches", "loading into DuckDB", "indexing and checkpointing"}
	next := 0
	for _, l := range lines {
		if strings.Contains(l, "ETA 0s") {
			t.Errorf("a line at ETA 0s: %q", l)
		}
		if next < len(want) && strings.Contains(l, want[next]) {
			if !strings.Contains(l, "100%") {
				t.Errorf("phase line before everything was read: %q", l)
			}
			next++
		}
	}
	if next != len(want) {
		t.Errorf("phases shown: %v of %v\n%s", want[:next], want, stderr.String())
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "43 records") || !strings.HasSuffix(strings.TrimSpace(last), "done") {
		t.Errorf("last progress line %q", last)
	}
	if !strings.Contains(stdout.String(), "ingested 43 documents") {
		t.Errorf("summary: %q", stdout.String())
	}
}
