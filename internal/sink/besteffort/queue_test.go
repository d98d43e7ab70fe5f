package besteffort

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/sink"
)

// A write to a segment that fails half way (a full disk) leaves part of a
// line. The next push must neither glue its first line to it (which sent
// a garbage document and lost that one) nor fail for ever on the same
// descriptor: every queued document comes out whole, and the torn one is
// skipped.
func TestQueueWriteFailureLeavesNoGarbage(t *testing.T) {
	q, err := openQueue(t.TempDir(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	doc := func(i int) []sink.Doc {
		return []sink.Doc{{JSON: []byte(fmt.Sprintf(`{"n":%d}`, i)), Dataset: "d", Timestamp: time.Unix(0, 1)}}
	}
	if _, err := q.push(doc(1)); err != nil {
		t.Fatal(err)
	}
	// The write of document 2 fails after part of it reached the file.
	path := q.path(q.activeID)
	q.active.Close()
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("d\t1\t{\"n\":")
	f.Close()
	broken, err := os.Open(path) // read-only: the write fails
	if err != nil {
		t.Fatal(err)
	}
	q.active = broken
	if _, err := q.push(doc(2)); err == nil {
		t.Fatal("a push to a failed segment succeeded")
	}
	for i := 3; i <= 4; i++ {
		if n, err := q.push(doc(i)); err != nil || n != 1 {
			t.Fatalf("push after a failure: %d, %v", n, err)
		}
	}
	q.mu.Lock()
	q.rotateLocked()
	segs := append([]segment(nil), q.segs...)
	q.mu.Unlock()
	var got []string
	for _, seg := range segs {
		b, err := os.ReadFile(q.path(seg.id))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range parse(b) {
			if !json.Valid(d.JSON) {
				t.Errorf("a queued document is not JSON: %q", d.JSON)
			}
			got = append(got, string(d.JSON))
		}
	}
	if fmt.Sprint(got) != `[{"n":1} {"n":3} {"n":4}]` {
		t.Errorf("documents %v, want 1, 3 and 4", got)
	}
}
