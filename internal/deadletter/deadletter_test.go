package deadletter

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
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
