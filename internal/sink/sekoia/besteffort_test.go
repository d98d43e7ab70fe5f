package sekoia

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
)

// With best_effort, an intake that is down does not hold collection
// back: the file sink (the sink of record) gets everything and the
// source's position moves on, the intake's share waits in the on-disk
// queue, and arrives once the intake is back. The queue is visible at
// /metrics.
func TestBestEffortThroughTheService(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	in := &intake{t: t}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		in.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()

	dir := t.TempDir()
	const n = 5000
	if err := os.MkdirAll(filepath.Join(dir, "in"), 0o750); err != nil {
		t.Fatal(err)
	}
	var input strings.Builder
	for _, r := range deliverytest.Records(n, "be") {
		input.Write(r)
		input.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(dir, "in", "input.ndjson"), []byte(input.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`server: {listen: %q}
log: {level: warn}
pipeline: {retry_initial: 10ms, retry_max: 100ms}
dead_letter: {path: %[2]s/dead-letter.ndjson}
sources:
  - {name: in, type: file, paths: [%[2]s/in/*.ndjson], follow: true, poll_interval: 20ms, state_path: %[2]s/positions.json, checkpoint_interval: 20ms}
sinks:
  - {name: record, type: file, path: %[2]s/out/events.ndjson, max_size_mb: 0}
  - name: soc
    type: sekoia
    intake_server: %[3]s
    intake_key: key-123
    max_attempts: 1
    dead_letter: %[2]s/sekoia-dl.ndjson
    best_effort: true
    buffer: {dir: %[2]s/queue, retry_max: 50ms}
`, listen, dir, srv.URL)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	svc := deliverytest.Start(t, dir, path)
	want := deliverytest.IDs(n, "be")
	complete := func(docs [][]byte) bool {
		missing, _, _ := deliverytest.Check(deliverytest.Count(docs), want)
		return missing == 0
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\nservice log:\n%s", what, svc.Stderr())
			}
		}
	}
	wait("the file sink to have everything while the intake is down", func() bool {
		return complete(deliverytest.ReadNDJSON(t, filepath.Join(dir, "out", "events*.ndjson")))
	})
	wait("the source's position to pass every record while the intake is down", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "positions.json"))
		if err != nil {
			return false
		}
		var st map[string]struct{ Records int }
		json.Unmarshal(b, &st)
		total := 0
		for _, p := range st {
			total += p.Records
		}
		return total == n
	})
	if recs, _, _ := in.accepted(); len(recs) != 0 {
		t.Fatalf("%d records reached an intake that was down", len(recs))
	}
	metrics := func() string {
		resp, err := http.Get("http://" + listen + "/metrics")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	wait("queued bytes in /metrics", func() bool {
		return strings.Contains(metrics(), `defender_intake_best_effort_queued_bytes{sink="soc"}`)
	})
	down.Store(false)
	wait("the intake to receive everything once back", func() bool {
		recs, _, _ := in.accepted()
		docs := make([][]byte, len(recs))
		for i, r := range recs {
			docs[i] = fmt.Appendf(nil, `{"host":{"name":%q}}`, hostOf(t, r))
		}
		return complete(docs)
	})
	svc.Stop(30 * time.Second)
}
