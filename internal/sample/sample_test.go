package sample

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/examples"
)

// The embedded copy is the file in examples/ (go:embed reads it at build
// time; this guards against a stale build cache or a moved file).
func TestEmbeddedIsTheExampleFile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "defender-sample.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, examples.DefenderSample) || len(b) == 0 {
		t.Fatal("examples.DefenderSample differs from examples/defender-sample.ndjson")
	}
}

func TestShiftTimes(t *testing.T) {
	lo := time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)
	hi := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	by := 6*24*time.Hour + 90*time.Minute
	tests := []struct{ in, want string }{
		{`{"time":"2026-11-20T07:57:59.0000000Z"}`, `{"time":"2026-11-26T09:27:59.0000000Z"}`},
		{`"2026-11-20T09:14:23.0114Z"`, `"2026-11-26T10:44:23.0114Z"`},
		{`"2026-11-20T23:59:59.999Z"`, `"2026-11-27T01:29:59.999Z"`},
		{`"2026-11-20T09:05:43"`, `"2026-11-26T10:35:43"`},
		{`"2026-11-20T09:05:43+02:00"`, `"2026-11-26T10:35:43+02:00"`},
		{`{\"LastSeen\":\"2026-11-20T09:14:23Z\"}`, `{\"LastSeen\":\"2026-11-26T10:44:23Z\"}`},
		{`"2027-09-01T23:59:59Z"`, `"2027-09-01T23:59:59Z"`}, // out of the period: kept
		{`"2025-09-01T00:00:00Z"`, `"2025-09-01T00:00:00Z"`},
		{`"not 2026-11-20 a time"`, `"not 2026-11-20 a time"`},
	}
	for _, tc := range tests {
		if got := string(ShiftTimes([]byte(tc.in), lo, hi, by)); got != tc.want {
			t.Errorf("ShiftTimes(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestRecords(t *testing.T) {
	orig, by, err := Records(time.Time{})
	if err != nil || by != 0 {
		t.Fatal(err, by)
	}
	if len(orig) != 43 {
		t.Fatalf("%d sample records, want 43 (examples/README.md)", len(orig))
	}
	end := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	moved, by, err := Records(end)
	if err != nil {
		t.Fatal(err)
	}
	var newest time.Time
	for i, r := range moved {
		mt, ok1 := recordTime(r)
		ot, ok2 := recordTime(orig[i])
		if ok1 != ok2 || mt.Sub(ot) != by {
			t.Errorf("record %d moved by %s, want %s", i, mt.Sub(ot), by)
		}
		if mt.After(newest) {
			newest = mt
		}
		if strings.Count(string(r), "2030-") == 0 {
			t.Errorf("record %d has no moved time: %.200s", i, r)
		}
	}
	if end.Sub(newest) < 0 || end.Sub(newest) >= time.Second {
		t.Errorf("newest record at %s, want within a second before %s", newest, end)
	}
}
