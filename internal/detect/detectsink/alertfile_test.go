package detectsink

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
)

// The alert file is a log of upserts: the last line of an id wins, torn
// or foreign lines are skipped, and since leaves out older alerts.
func TestReadAlerts(t *testing.T) {
	line := func(id, change string, count int, last string) string {
		return `{"change":"` + change + `","alert":{"id":"` + id + `","title":"T` + id + `","count":` + strconv.Itoa(count) + `,"last_seen":"` + last + `"}}`
	}
	tests := []struct {
		name  string
		file  string
		since time.Time
		want  string // id:count,...
	}{
		{"empty", "", time.Time{}, ""},
		{"last line wins", line("a", "created", 1, "2026-01-01T00:00:00Z") + "\n" + line("b", "created", 1, "2026-01-01T00:00:00Z") + "\n" + line("a", "updated", 3, "2026-01-01T01:00:00Z") + "\n", time.Time{}, "a:3,b:1"},
		{"torn last line", line("a", "created", 1, "2026-01-01T00:00:00Z") + "\n" + `{"change":"updated","alert":{"id":"a","cou`, time.Time{}, "a:1"},
		{"torn line in the middle, then more", line("a", "created", 1, "2026-01-01T00:00:00Z") + "\n{\"chan\n" + line("a", "updated", 2, "2026-01-01T00:00:00Z") + "\n", time.Time{}, "a:2"},
		{"lines without an id", `{"change":"created","alert":{}}` + "\n[]\n", time.Time{}, ""},
		{"since", line("old", "created", 1, "2026-01-01T00:00:00Z") + "\n" + line("new", "created", 1, "2026-01-02T00:00:00Z") + "\n", time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC), "new:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			as, err := readAlerts(strings.NewReader(tc.file), tc.since)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range as {
				got = append(got, a.ID+":"+strconv.Itoa(a.Count))
			}
			if strings.Join(got, ",") != tc.want {
				t.Errorf("got %v, want %s", got, tc.want)
			}
		})
	}
}

// The alert file is an export too: after a crash that tore its last line,
// or a write that failed half way, every line of it is still JSON and no
// line written after is glued to the torn one (which lost that line for
// every reader, this sink's own at the next start included).
func TestAlertFileStaysNDJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.ndjson")
	whole := `{"change":"created","alert":{"id":"a","count":1}}` + "\n"
	if err := os.WriteFile(path, []byte(whole+`{"change":"updated","alert":{"id":"a","cou`), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := openAlertFile(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	write := func(id string, count int) error {
		return a.appendLines([]Line{{Change: "updated", Alert: alerts.Alert{ID: id, Count: count}}})
	}
	if err := write("a", 2); err != nil {
		t.Fatal(err)
	}
	// A write that fails after part of a line reached the file.
	a.f.Close()
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"change":"upd`)
	f.Close()
	if err := write("b", 1); err == nil {
		t.Fatal("a write to a failed descriptor succeeded")
	}
	if err := write("b", 1); err != nil {
		t.Fatalf("write after a failure: %v", err)
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for i, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("line %d is not JSON: %q", i+1, l)
		}
	}
	got, err := ReadAlerts(path, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 3 || len(got) != 2 || got[0].Count != 2 || got[1].ID != "b" {
		t.Errorf("%d lines, alerts %+v; want 3 lines, a:2 and b:1", len(lines), got)
	}
}
