package deadletter

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteAndMarshal(t *testing.T) {
	enq := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		entry Entry
		want  map[string]any
	}{
		{name: "utf-8 raw with full origin",
			entry: Entry{Reason: "not JSON", Stage: "envelope", Source: "eh", Type: "eventhub", Stream: "hub", Partition: "3", Offset: 42, SequenceNumber: 7, EnqueuedTime: enq, Raw: []byte("garbage")},
			want:  map[string]any{"raw": "garbage", "partition": "3", "offset": 42.0, "sequence_number": 7.0, "enqueued_time": "2026-11-26T10:00:00Z", "stage": "envelope"}},
		{name: "binary raw is base64, unknown positions omitted",
			entry: Entry{Reason: "bad", Stage: "source", Source: "f", Type: "file", Offset: -1, SequenceNumber: -1, Raw: []byte{0xff, 0x00, 0xfe}},
			want:  map[string]any{"raw_base64": "/wD+", "offset": nil, "sequence_number": nil, "enqueued_time": nil, "raw": nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "dl", "dead.ndjson")
			f, err := OpenFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Write(context.Background(), []Entry{tc.entry}); err != nil {
				t.Fatal(err)
			}
			// Durable before Close: read it back while still open.
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
}

// A crash in the middle of a write leaves a torn entry at the end of the
// file. OpenFile cuts it (the entry was never acknowledged, so its input
// is dead-lettered again): every line of the file stays a JSON entry, and
// no torn bytes are glued to, or left before, the next entry.
func TestTornEntryCutAtOpen(t *testing.T) {
	full, err := Marshal(Entry{Reason: "r", Stage: "envelope", Source: "f", Type: "file", Offset: -1, SequenceNumber: -1, Raw: []byte(`{"torn`)})
	if err != nil {
		t.Fatal(err)
	}
	first := string(full) + "\n"
	for cut := 0; cut <= len(full); cut++ {
		p := filepath.Join(t.TempDir(), "dead.ndjson")
		if err := os.WriteFile(p, []byte(first+string(full[:cut])), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := OpenFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Write(context.Background(), []Entry{{Reason: "next", Stage: "normalize", Offset: -1, SequenceNumber: -1, Raw: []byte("x")}}); err != nil {
			t.Fatal(err)
		}
		f.Close()
		b, _ := os.ReadFile(p)
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		// Even a whole entry without its newline is cut: its write was
		// not acknowledged (the newline is part of it).
		if len(lines) != 2 || lines[0] != string(full) {
			t.Fatalf("torn after %d bytes: %d lines, want the first entry and the next: %q", cut, len(lines), b)
		}
		for i, l := range lines {
			if !json.Valid([]byte(l)) {
				t.Fatalf("torn after %d bytes: line %d is not JSON: %q", cut, i+1, l)
			}
		}
	}
}

// A failed write (a full disk, an I/O error) does not make every later
// write fail: the next Write opens the file again, cutting the part of an
// entry the failure left, and succeeds.
func TestWriteRecoversAfterAFailure(t *testing.T) {
	p := filepath.Join(t.TempDir(), "dead.ndjson")
	d, err := OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	entry := func(reason string) []Entry {
		return []Entry{{Reason: reason, Stage: "envelope", Offset: -1, SequenceNumber: -1, Raw: []byte("x")}}
	}
	if err := d.Write(context.Background(), entry("first")); err != nil {
		t.Fatal(err)
	}
	// The descriptor fails under the writer, after part of an entry
	// reached the file.
	d.f.Close()
	if err := os.WriteFile(p, append(mustRead(t, p), `{"time":"2026`...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Write(context.Background(), entry("lost")); err == nil {
		t.Fatal("a write to a failed descriptor succeeded")
	}
	for _, r := range []string{"second", "third"} {
		if err := d.Write(context.Background(), entry(r)); err != nil {
			t.Fatalf("write after a failure: %v", err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(string(mustRead(t, p)), "\n"), "\n")
	var reasons []string
	for _, l := range lines {
		var e struct{ Reason string }
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %q is not JSON", l)
		}
		reasons = append(reasons, e.Reason)
	}
	if got := strings.Join(reasons, ","); got != "first,second,third" {
		t.Errorf("entries %s, want first,second,third", got)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
