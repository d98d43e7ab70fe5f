package deliverytest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// intakeRecorder stands in for a Sekoia intake (POST /batch with
// {"intake_key":..., "jsons":[raw record, ...]}) and counts each record
// it received by its id.
type intakeRecorder struct {
	srv *httptest.Server
	mu  sync.Mutex
	ids map[string]int
	n   int
}

func newIntakeRecorder(t *testing.T) *intakeRecorder {
	r := &intakeRecorder{ids: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body struct {
			JSONs []string `json:"jsons"`
		}
		if err := json.NewDecoder(req.Body).Decode(&body); req.URL.Path != "/batch" || err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		for _, raw := range body.JSONs {
			var rec struct {
				Properties struct {
					DeviceName string `json:"DeviceName"`
				} `json:"properties"`
			}
			if json.Unmarshal([]byte(raw), &rec) == nil && rec.Properties.DeviceName != "" {
				r.ids[rec.Properties.DeviceName]++
			}
			r.n++
		}
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"received":true}`))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *intakeRecorder) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.ids))
	for k, v := range r.ids {
		out[k] = v
	}
	return out
}

func (r *intakeRecorder) received() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// gracefulStopBinary is the user's setup: the real binary reading the
// source into a Sekoia sink limited to 2,000 records/s (a recording
// intake stands in for Sekoia), so the source is blocked by backpressure;
// SIGTERM mid-run, restart, and count: every record reached every sink
// exactly once. With two sinks, a file sink is the second.
func gracefulStopBinary(t *testing.T, src SourceHarness) {
	for _, sinks := range []int{1, 2} {
		name := map[int]string{1: "Sekoia", 2: "SekoiaAndFile"}[sinks]
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			intake := newIntakeRecorder(t)
			entries := []map[string]any{{"name": "sekoia", "type": "sekoia", "intake_server": intake.srv.URL, "intake_key": "k",
				"max_records_per_second": 2000, "dead_letter": filepath.Join(dir, "dead-letter-sekoia.ndjson")}}
			read := []func() map[string]int{intake.counts}
			if sinks > 1 {
				entries = append(entries, fileSinkEntry(dir))
				read = append(read, func() map[string]int { return Count(readFileSink(t, dir)) })
			}
			cfg := WriteConfig(t, dir, src.Entry(t, dir), entries...)
			n := min(src.Records, 8000)
			want := IDs(n, "b")
			svc := Start(t, dir, cfg)
			produced := make(chan struct{})
			go func() {
				defer close(produced)
				src.Produce(t, dir, Records(n, "b"))
			}()
			// Past the limiter's first burst (2,000) the sink sends at
			// 2,000 records/s while the source reads far faster: the
			// source is blocked when SIGTERM comes.
			waitUntil(t, svc, "3,000 records at the intake", func() bool { return intake.received() >= 3000 })
			svc.Stop(60 * time.Second)
			stopped := intake.received()
			svc = Start(t, dir, cfg)
			waitUntil(t, svc, "every record at every sink after the restart", func() bool {
				for _, r := range read {
					if missing, _, _ := Check(r(), want); missing > 0 {
						return false
					}
				}
				return true
			})
			<-produced
			svc.Stop(60 * time.Second)
			t.Logf("SIGTERM with %d of %d records at the intake", stopped, n)
			for i, r := range read {
				missing, ex, dups := Check(r(), want)
				if missing > 0 {
					t.Errorf("sink %d: %d of %d records lost (e.g. %s)", i+1, missing, n, ex)
				}
				if dups > 0 {
					t.Errorf("sink %d: %d of %d records sent twice across SIGTERM and restart", i+1, dups, n)
				}
			}
		})
	}
}

// waitUntil polls cond until it holds; the service exiting first, or
// two minutes passing, fails the test.
func waitUntil(t *testing.T, svc *Service, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited two minutes for %s\nservice log:\n%s", what, svc.Stderr())
		}
		select {
		case <-svc.Exited():
			t.Fatalf("the service exited before %s\nservice log:\n%s", what, svc.Stderr())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
