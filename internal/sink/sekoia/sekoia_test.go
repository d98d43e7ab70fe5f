package sekoia

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

// intake is an in-process Sekoia intake: it checks each request's exact
// format, keeps the records it accepted, and fails on demand.
type intake struct {
	t        testing.TB
	mu       sync.Mutex
	records  []string
	requests int
	maxBody  int
	// fail, when set, decides the answer of a request (0: accept).
	fail func(n int, w http.ResponseWriter, r *http.Request, jsons []string) bool
	bad  []string // format problems seen
}

func (in *intake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in.mu.Lock()
	in.requests++
	n := in.requests
	in.mu.Unlock()
	var problems []string
	if r.Method != http.MethodPost || r.URL.Path != "/batch" {
		problems = append(problems, "request "+r.Method+" "+r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		problems = append(problems, "content type "+ct)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the client went away mid-request (a killed service)
	}
	in.mu.Lock()
	in.maxBody = max(in.maxBody, len(body))
	in.mu.Unlock()
	var req struct {
		IntakeKey string            `json:"intake_key"`
		JSONs     []json.RawMessage `json:"jsons"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		problems = append(problems, "body: "+err.Error())
	}
	if req.IntakeKey != "key-123" {
		problems = append(problems, "intake_key "+req.IntakeKey)
	}
	var jsons []string
	for _, j := range req.JSONs {
		var s string
		if err := json.Unmarshal(j, &s); err != nil {
			problems = append(problems, "jsons entry is not a string: "+string(j))
			continue
		}
		if !json.Valid([]byte(s)) {
			problems = append(problems, "jsons entry is not a JSON record: "+s)
		}
		jsons = append(jsons, s)
	}
	if len(problems) > 0 {
		in.mu.Lock()
		in.bad = append(in.bad, problems...)
		in.mu.Unlock()
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if in.fail != nil && in.fail(n, w, r, jsons) {
		return
	}
	in.mu.Lock()
	in.records = append(in.records, jsons...)
	in.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"received":true,"event_ids":[]}`)
}

func (in *intake) accepted() (records []string, requests int, bad []string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.records...), in.requests, append([]string(nil), in.bad...)
}

func open(t *testing.T, url string, edit func(*Config)) *Sink {
	t.Helper()
	c := DefaultConfig()
	c.IntakeServer = url
	c.IntakeKey = config.NewSecret("key-123")
	c.DeadLetter = filepath.Join(t.TempDir(), "dl.ndjson")
	c.Timeout = 500 * time.Millisecond
	c.MaxAttempts = 3
	if edit != nil {
		edit(c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := Open("sekoia-test", *c)
	if err != nil {
		t.Fatal(err)
	}
	s.retry.Initial = 5 * time.Millisecond
	t.Cleanup(func() { s.Close() })
	return s
}

// hostOf returns the DeviceName of a raw record.
func hostOf(t testing.TB, rec string) string {
	var r struct {
		Properties struct{ DeviceName string } `json:"properties"`
	}
	if err := json.Unmarshal([]byte(rec), &r); err != nil {
		t.Fatalf("record %q: %v", rec, err)
	}
	return r.Properties.DeviceName
}

func TestWrite(t *testing.T) {
	dropped := func(n int, w http.ResponseWriter, _ *http.Request, _ []string) bool {
		if n > 1 {
			return false
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return true
	}
	cases := []struct {
		name string
		docs int
		edit func(*Config)
		fail func(n int, w http.ResponseWriter, r *http.Request, jsons []string) bool
		// wantRequests is the exact number of requests made.
		wantRequests int
		// wantFailed is how many documents Write reports failed.
		wantFailed int
		// wantDead is the hosts dead-lettered.
		wantDead []string
	}{
		{name: "one chunk", docs: 10, wantRequests: 1},
		{name: "chunks by count", docs: 25, edit: func(c *Config) { c.MaxBatchRecords = 10 }, wantRequests: 3},
		{name: "chunks by bytes", docs: 20, edit: func(c *Config) { c.MaxBatchBytes = 1024 }, wantRequests: 4},
		{name: "429 then accepted, honouring Retry-After", docs: 5, fail: func(n int, w http.ResponseWriter, _ *http.Request, _ []string) bool {
			if n == 1 {
				w.Header().Set("Retry-After", "1")
				http.Error(w, "slow down", http.StatusTooManyRequests)
				return true
			}
			return false
		}, wantRequests: 2},
		{name: "500 twice then accepted", docs: 5, fail: func(n int, w http.ResponseWriter, _ *http.Request, _ []string) bool {
			if n <= 2 {
				http.Error(w, "oops", http.StatusInternalServerError)
				return true
			}
			return false
		}, wantRequests: 3},
		{name: "timeout then accepted", docs: 5, fail: func(n int, w http.ResponseWriter, r *http.Request, _ []string) bool {
			if n == 1 {
				select {
				case <-time.After(2 * time.Second):
				case <-r.Context().Done():
				}
				return true
			}
			return false
		}, wantRequests: 2},
		{name: "dropped connection then accepted", docs: 5, fail: dropped, wantRequests: 2},
		{name: "always 503: everything handed back", docs: 25, edit: func(c *Config) { c.MaxBatchRecords = 10 }, fail: func(_ int, w http.ResponseWriter, _ *http.Request, _ []string) bool {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return true
		}, wantRequests: 3, wantFailed: 25},
		{name: "400 for one record: only it dead-lettered", docs: 8, fail: func(_ int, w http.ResponseWriter, _ *http.Request, jsons []string) bool {
			for _, j := range jsons {
				if strings.Contains(j, `"d-5"`) {
					http.Error(w, `{"message":"invalid event d-5"}`, http.StatusBadRequest)
					return true
				}
			}
			return false
		}, wantRequests: 7, wantDead: []string{"d-5"}},
		{name: "401 keeps every record for the pipeline's retries", docs: 25, edit: func(c *Config) { c.MaxBatchRecords = 10 }, fail: func(_ int, w http.ResponseWriter, _ *http.Request, _ []string) bool {
			http.Error(w, "bad key", http.StatusUnauthorized)
			return true
		}, wantRequests: 1, wantFailed: 25},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := &intake{t: t, fail: tc.fail}
			srv := httptest.NewServer(in)
			defer srv.Close()
			s := open(t, srv.URL, tc.edit)
			docs := forwardtest.Docs(tc.docs, "d")
			start := time.Now()
			err := s.Write(context.Background(), docs)
			failed := sink.FailedIndices(err, len(docs))
			if len(failed) != tc.wantFailed {
				t.Fatalf("%d failed, want %d (err %v)", len(failed), tc.wantFailed, err)
			}
			var pe *sink.PartialError
			if err != nil && !errors.As(err, &pe) {
				t.Errorf("error %v is not a PartialError", err)
			}
			recs, requests, bad := in.accepted()
			if len(bad) > 0 {
				t.Fatalf("format problems: %v", bad)
			}
			if requests != tc.wantRequests {
				t.Errorf("%d requests, want %d", requests, tc.wantRequests)
			}
			if c := s.cfg; in.maxBody > c.MaxBatchBytes {
				t.Errorf("a request of %d bytes, more than max_batch_bytes %d", in.maxBody, c.MaxBatchBytes)
			}
			if strings.HasPrefix(tc.name, "429") && time.Since(start) < time.Second {
				t.Errorf("retried after %v: Retry-After of 1s not honoured", time.Since(start))
			}
			got := map[string]bool{}
			for _, r := range recs {
				got[hostOf(t, r)] = true
			}
			var dead []string
			for _, e := range forwardtest.DeadLetters(t, s.cfg.DeadLetter) {
				raw, _ := e["raw"].(string)
				dead = append(dead, hostOf(t, raw))
				if e["stage"] != "sink" || !strings.Contains(e["reason"].(string), "invalid event d-5") || e["source"] != "hub" || e["partition"] != "3" {
					t.Errorf("dead-letter entry lacks the response or origin: %v", e)
				}
			}
			if strings.Join(dead, ",") != strings.Join(tc.wantDead, ",") {
				t.Errorf("dead-lettered %v, want %v", dead, tc.wantDead)
			}
			if tc.wantFailed == 0 {
				for i := 0; i < tc.docs; i++ {
					id := "d-" + itoa(i)
					if !got[id] && !contains(tc.wantDead, id) {
						t.Errorf("record %s neither accepted nor dead-lettered", id)
					}
				}
			}
		})
	}
}

func TestRawRecordIsSentVerbatim(t *testing.T) {
	in := &intake{t: t}
	srv := httptest.NewServer(in)
	defer srv.Close()
	s := open(t, srv.URL, nil)
	docs := forwardtest.Docs(2, "v")
	docs = append(docs, sink.Doc{JSON: []byte(`{"host":{"name":"no-message"}}`)})
	if err := s.Write(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	recs, _, _ := in.accepted()
	want := []string{
		`{"time":"2023-01-04T14:16:55.5041166Z","category":"AdvancedHunting-DeviceProcessEvents","properties":{"DeviceName":"v-0","ReportId":0}}`,
		`{"time":"2023-01-04T14:16:55.5041166Z","category":"AdvancedHunting-DeviceProcessEvents","properties":{"DeviceName":"v-1","ReportId":1}}`,
		`{"host":{"name":"no-message"}}`,
	}
	if strings.Join(recs, "\n") != strings.Join(want, "\n") {
		t.Errorf("sent\n%s\nwant\n%s", strings.Join(recs, "\n"), strings.Join(want, "\n"))
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"defaults with a key", func(c *Config) {}, ""},
		{"no key", func(c *Config) { c.IntakeKey = config.Secret{} }, "intake_key"},
		{"bad server", func(c *Config) { c.IntakeServer = "intake.sekoia.io" }, "intake_server"},
		{"zero batch", func(c *Config) { c.MaxBatchRecords = 0 }, "max_batch_records"},
		{"negative rate", func(c *Config) { c.MaxRecordsPerSecond = -1 }, "max_records_per_second"},
		{"zero attempts", func(c *Config) { c.MaxAttempts = 0 }, "max_attempts"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.IntakeKey = config.NewSecret("k")
			tc.edit(c)
			err := c.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The rate limit spreads records over time: 2,000 records at 1,000 per
// second (burst 1,000) cannot take less than one second.
func TestRateLimit(t *testing.T) {
	cases := []struct {
		name    string
		rate    float64
		atLeast time.Duration
	}{
		{"unlimited", 0, 0},
		{"1000 per second", 1000, 900 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := &intake{t: t}
			srv := httptest.NewServer(in)
			defer srv.Close()
			s := open(t, srv.URL, func(c *Config) { c.MaxRecordsPerSecond, c.MaxBatchRecords = tc.rate, 100 })
			start := time.Now()
			if err := s.Write(context.Background(), forwardtest.Docs(2000, "r")); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took < tc.atLeast {
				t.Errorf("2000 records sent in %v, want at least %v", took, tc.atLeast)
			}
			if recs, _, _ := in.accepted(); len(recs) != 2000 {
				t.Errorf("%d records received", len(recs))
			}
		})
	}
}
