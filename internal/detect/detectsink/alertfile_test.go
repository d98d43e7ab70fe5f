package detectsink

import (
	"strconv"
	"strings"
	"testing"
	"time"
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
