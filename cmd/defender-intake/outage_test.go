package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

// sekoiaStandIn is an in-process Sekoia intake that counts the records it
// accepted by DeviceName.
type sekoiaStandIn struct {
	mu    sync.Mutex
	count map[string]int
	total int
}

func (s *sekoiaStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		JSONs []string `json:"jsons"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range req.JSONs {
		var rec struct {
			Properties struct{ DeviceName string } `json:"properties"`
		}
		json.Unmarshal([]byte(j), &rec)
		s.count[rec.Properties.DeviceName]++
		s.total++
	}
	io.WriteString(w, `{"received":true}`)
}

func (s *sekoiaStandIn) counts() (map[string]int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.count))
	for k, v := range s.count {
		out[k] = v
	}
	return out, s.total
}

// outageService runs the service in-process: a followed file of n
// records with a state file, one sekoia sink behind gate, and the
// server for /readyz and /metrics.
type outageService struct {
	dir, server string
	cancel      context.CancelFunc
	// done is closed when runService returned err.
	done chan struct{}
	err  error
}

func startOutageService(t *testing.T, run string, n int, gateURL, drain string) *outageService {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	if err := os.WriteFile(in, append(bytes.Join(deliverytest.Records(n, run), []byte("\n")), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	server := freePort(t)
	y := fmt.Sprintf(`
server: {listen: %q}
log: {level: error}
pipeline: {retry_initial: 10ms, retry_max: 100ms, drain_timeout: %s}
dead_letter: {path: %q}
sources:
  - {name: f, type: file, paths: [%q], follow: true, poll_interval: 20ms, batch_records: 50, state_path: %q}
sinks:
  - {name: soc, type: sekoia, intake_server: %q, intake_key: k, max_batch_records: 20, dead_letter: %q}
`, server, drain, filepath.Join(dir, "dead.ndjson"), in, filepath.Join(dir, "state.json"), gateURL, filepath.Join(dir, "soc-dead.ndjson"))
	cfg, err := config.Parse("test.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &outageService{dir: dir, server: server, cancel: cancel, done: make(chan struct{})}
	go func() {
		s.err = runService(ctx, cfg, slog.New(slog.DiscardHandler))
		close(s.done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(time.Minute):
		}
	})
	return s
}

func (s *outageService) get(path string) (int, string) {
	resp, err := http.Get("http://" + s.server + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor polls cond (a state of the service, not a duration) for at most
// 30 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for start := time.Now(); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// progress is what the file source's state file says was delivered: the
// sum of its per-file counters other than the file's identity (0 when
// the file does not exist yet).
func (s *outageService) progress(t *testing.T) float64 {
	b, err := os.ReadFile(filepath.Join(s.dir, "state.json"))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("state file %s: %v", b, err)
	}
	var sum float64
	for _, pos := range st {
		for k, v := range pos {
			if f, ok := v.(float64); ok && k != "dev" && k != "ino" {
				sum += f
			}
		}
	}
	return sum
}

func (s *outageService) deadLetters(t *testing.T) int {
	return len(forwardtest.DeadLetters(t, filepath.Join(s.dir, "dead.ndjson"))) + len(forwardtest.DeadLetters(t, filepath.Join(s.dir, "soc-dead.ndjson")))
}

// A target that refuses the sink's requests (401, 403, 404, 407, a
// redirect, 405) is an
// outage: nothing is dead-lettered, nothing acknowledged (the source's
// state does not move), the metric is set and /readyz fails; when the
// target answers again, every record is delivered exactly once and
// /readyz succeeds. A 401 used to dead-letter every record.
func TestSinkTargetOutage(t *testing.T) {
	const n = 200
	for _, code := range []int{401, 403, 404, 407, 302, 405} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			intake := &sekoiaStandIn{count: map[string]int{}}
			gate := &forwardtest.Gate{Next: intake}
			gate.Code.Store(int32(code))
			srv := httptest.NewServer(gate)
			defer srv.Close()
			run := fmt.Sprintf("outage%d", code)
			s := startOutageService(t, run, n, srv.URL, "20s")

			// Retried, not given up: several refusals, and the service says so.
			waitFor(t, "the refusals, an unready service and the metric", func() bool {
				code, body := s.get("/readyz")
				_, metrics := s.get("/metrics")
				return gate.Refused.Load() >= 5 && code == http.StatusServiceUnavailable && strings.Contains(body, "soc") &&
					metricValue(metrics, `defender_intake_sink_target_unavailable{sink="soc"}`) == 1
			})
			if _, total := intake.counts(); total != 0 {
				t.Fatalf("%d records delivered through a %d", total, code)
			}
			if d := s.deadLetters(t); d != 0 {
				t.Fatalf("%d records dead-lettered for a %d", d, code)
			}
			if p := s.progress(t); p != 0 {
				t.Fatalf("the source checkpointed %v records that were not delivered", p)
			}

			gate.Code.Store(0)
			waitFor(t, "every record delivered and a ready service", func() bool {
				_, total := intake.counts()
				code, _ := s.get("/readyz")
				_, metrics := s.get("/metrics")
				return total >= n && code == http.StatusOK && metricValue(metrics, `defender_intake_sink_target_unavailable{sink="soc"}`) == 0
			})
			s.cancel()
			select {
			case <-s.done:
				if s.err != nil {
					t.Fatal(s.err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the service did not stop")
			}
			counts, total := intake.counts()
			missing, dups := 0, 0
			for _, id := range deliverytest.IDs(n, run) {
				switch c := counts[id]; {
				case c == 0:
					missing++
				case c > 1:
					dups += c - 1
				}
			}
			if missing > 0 || dups > 0 || total != n {
				t.Errorf("delivered %d: %d missing, %d duplicates, want each of %d once", total, missing, dups, n)
			}
			if d := s.deadLetters(t); d != 0 {
				t.Errorf("%d records dead-lettered", d)
			}
			if p := s.progress(t); p == 0 {
				t.Error("the source did not checkpoint what was delivered")
			}
		})
	}
}

// A stop while the target refuses every request does not wait out
// drain_timeout (an hour here): the records stay unacknowledged, for the
// next start.
func TestStopWhileTargetRefuses(t *testing.T) {
	intake := &sekoiaStandIn{count: map[string]int{}}
	gate := &forwardtest.Gate{Next: intake}
	gate.Code.Store(http.StatusUnauthorized)
	srv := httptest.NewServer(gate)
	defer srv.Close()
	s := startOutageService(t, "stop", 200, srv.URL, "1h")
	waitFor(t, "refusals", func() bool { return gate.Refused.Load() >= 5 })
	s.cancel()
	select {
	case <-s.done:
		if s.err != nil {
			t.Fatal(s.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the service waited for a target that refuses it (drain_timeout 1h)")
	}
	if _, total := intake.counts(); total != 0 {
		t.Errorf("%d records delivered", total)
	}
	if d := s.deadLetters(t); d != 0 {
		t.Errorf("%d records dead-lettered", d)
	}
	if p := s.progress(t); p != 0 {
		t.Errorf("the source checkpointed %v records that were not delivered", p)
	}
}
