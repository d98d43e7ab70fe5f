package splunkhec

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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

// hec is an in-process HTTP Event Collector: it checks the format of each
// request, keeps accepted events, implements indexer acknowledgement, and
// fails on demand.
type hec struct {
	mu       sync.Mutex
	events   []map[string]any
	requests int
	maxBody  int
	bad      []string
	// fail decides the answer of the n-th event request (false: accept).
	fail func(n int, w http.ResponseWriter, events []map[string]any) bool
	// acks: ackId -> polls left before it reports indexed.
	acks    map[int64]int
	nextAck int64
	useAck  bool
	// ackFail, when set, answers the acknowledgement polls instead.
	ackFail func(w http.ResponseWriter) bool
}

func (h *hec) problem(s string) {
	h.mu.Lock()
	h.bad = append(h.bad, s)
	h.mu.Unlock()
}

func (h *hec) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Splunk tok-1" {
		h.problem("authorization " + r.Header.Get("Authorization"))
		http.Error(w, `{"text":"Invalid token","code":4}`, http.StatusForbidden)
		return
	}
	if r.Header.Get("X-Splunk-Request-Channel") == "" {
		h.problem("no channel header")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the client went away mid-request (a killed service)
	}
	h.mu.Lock()
	h.maxBody = max(h.maxBody, len(body))
	h.mu.Unlock()
	switch r.URL.Path {
	case "/services/collector/ack":
		if h.ackFail != nil && h.ackFail(w) {
			return
		}
		var req struct{ Acks []int64 }
		json.Unmarshal(body, &req)
		h.mu.Lock()
		out := map[string]bool{}
		for _, id := range req.Acks {
			left, ok := h.acks[id]
			out[fmt.Sprint(id)] = ok && left == 0
			if left > 0 {
				h.acks[id] = left - 1
			}
		}
		h.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"acks": out})
		return
	case "/services/collector/event":
	default:
		h.problem("path " + r.URL.Path)
		http.NotFound(w, r)
		return
	}
	h.mu.Lock()
	h.requests++
	n := h.requests
	h.mu.Unlock()
	var events []map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for dec.More() {
		var e map[string]any
		if err := dec.Decode(&e); err != nil {
			h.problem("body: " + err.Error())
			http.Error(w, `{"text":"Invalid data format","code":6}`, http.StatusBadRequest)
			return
		}
		if _, ok := e["time"].(json.Number); !ok {
			h.problem(fmt.Sprintf("time not a number: %v", e["time"]))
		}
		if _, ok := e["event"].(map[string]any); !ok {
			h.problem("event not an object")
		}
		events = append(events, e)
	}
	if h.fail != nil && h.fail(n, w, events) {
		return
	}
	h.mu.Lock()
	h.events = append(h.events, events...)
	reply := map[string]any{"text": "Success", "code": 0}
	if h.useAck {
		h.nextAck++
		h.acks[h.nextAck] = 1 // indexed at the second poll
		reply["ackId"] = h.nextAck
	}
	h.mu.Unlock()
	json.NewEncoder(w).Encode(reply)
}

func (h *hec) accepted() ([]map[string]any, int, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.events...), h.requests, append([]string(nil), h.bad...)
}

func openSink(t *testing.T, url string, edit func(*Config)) *Sink {
	t.Helper()
	c := DefaultConfig()
	c.URL, c.Token, c.Index = url, config.NewSecret("tok-1"), "defender"
	c.DeadLetter = filepath.Join(t.TempDir(), "dl.ndjson")
	c.Timeout, c.MaxAttempts = 500*time.Millisecond, 3
	if edit != nil {
		edit(c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := Open("hec-test", *c)
	if err != nil {
		t.Fatal(err)
	}
	s.retry.Initial = 5 * time.Millisecond
	t.Cleanup(func() { s.Close() })
	return s
}

func TestWrite(t *testing.T) {
	cases := []struct {
		name         string
		docs         int
		edit         func(*Config)
		ack          bool
		fail         func(n int, w http.ResponseWriter, events []map[string]any) bool
		wantRequests int
		wantFailed   int
		wantDead     []string
	}{
		{name: "one batch", docs: 10, wantRequests: 1},
		{name: "batches by count", docs: 25, edit: func(c *Config) { c.MaxBatchEvents = 10 }, wantRequests: 3},
		{name: "batches by bytes", docs: 10, edit: func(c *Config) { c.MaxBatchBytes = 2048 }, wantRequests: 4},
		{name: "indexer acknowledgement", docs: 10, ack: true, edit: func(c *Config) { c.Ack = true }, wantRequests: 1},
		{name: "503 busy then accepted", docs: 5, fail: func(n int, w http.ResponseWriter, _ []map[string]any) bool {
			if n == 1 {
				http.Error(w, `{"text":"Server is busy","code":9}`, http.StatusServiceUnavailable)
				return true
			}
			return false
		}, wantRequests: 2},
		{name: "always 503: handed back", docs: 5, fail: func(_ int, w http.ResponseWriter, _ []map[string]any) bool {
			http.Error(w, `{"text":"Server is busy","code":9}`, http.StatusServiceUnavailable)
			return true
		}, wantRequests: 3, wantFailed: 5},
		{name: "invalid event dead-lettered alone", docs: 6, fail: func(_ int, w http.ResponseWriter, events []map[string]any) bool {
			for i, e := range events {
				if e["host"] == "d-2" {
					w.WriteHeader(http.StatusBadRequest)
					fmt.Fprintf(w, `{"text":"Invalid data format","code":6,"invalid-event-number":%d}`, i)
					return true
				}
			}
			return false
		}, wantRequests: 7, wantDead: []string{"d-2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &hec{fail: tc.fail, useAck: tc.ack, acks: map[int64]int{}}
			srv := httptest.NewServer(h)
			defer srv.Close()
			s := openSink(t, srv.URL, tc.edit)
			docs := forwardtest.Docs(tc.docs, "d")
			err := s.Write(context.Background(), docs)
			if failed := sink.FailedIndices(err, len(docs)); len(failed) != tc.wantFailed {
				t.Fatalf("%d failed, want %d (err %v)", len(failed), tc.wantFailed, err)
			}
			events, requests, bad := h.accepted()
			if len(bad) > 0 {
				t.Fatalf("format problems: %v", bad)
			}
			if h.maxBody > s.cfg.MaxBatchBytes {
				t.Errorf("a request of %d bytes, more than max_batch_bytes %d", h.maxBody, s.cfg.MaxBatchBytes)
			}
			if requests != tc.wantRequests {
				t.Errorf("%d requests, want %d", requests, tc.wantRequests)
			}
			var dead []string
			for _, e := range forwardtest.DeadLetters(t, s.cfg.DeadLetter) {
				if !strings.Contains(e["reason"].(string), "Invalid data format") {
					t.Errorf("dead-letter reason lacks the response: %v", e["reason"])
				}
				var raw struct{ Properties struct{ DeviceName string } }
				json.Unmarshal([]byte(e["raw"].(string)), &raw)
				dead = append(dead, raw.Properties.DeviceName)
			}
			if strings.Join(dead, ",") != strings.Join(tc.wantDead, ",") {
				t.Errorf("dead-lettered %v, want %v", dead, tc.wantDead)
			}
			if tc.wantFailed > 0 {
				return
			}
			if len(events)+len(dead) != tc.docs {
				t.Errorf("%d events accepted and %d dead-lettered, want %d", len(events), len(dead), tc.docs)
			}
			for _, e := range events {
				ev := e["event"].(map[string]any)
				host := ev["host"].(map[string]any)["name"]
				if e["host"] != host || e["index"] != "defender" || e["sourcetype"] != "defender:ecs" || e["source"] != "defender-intake" {
					t.Errorf("event metadata %v (host.name %v)", e, host)
				}
				if e["time"].(json.Number).String() != "1672841815.504" {
					t.Errorf("time %v, want 1672841815.504 from @timestamp", e["time"])
				}
			}
		})
	}
}

func TestAckTimeoutHandsBack(t *testing.T) {
	h := &hec{useAck: true, acks: map[int64]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/services/collector/ack" {
			io.WriteString(w, `{"acks":{"1":false}}`) // never indexed
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	s := openSink(t, srv.URL, func(c *Config) { c.Ack, c.AckTimeout = true, 300*time.Millisecond })
	docs := forwardtest.Docs(3, "a")
	err := s.Write(context.Background(), docs)
	if failed := sink.FailedIndices(err, len(docs)); len(failed) != 3 {
		t.Fatalf("%d failed, want all 3 handed back when the ack never comes (err %v)", len(failed), err)
	}
}

// ack: true against a token without indexer acknowledgement: the 200 is
// the delivery, the batch is not sent again.
func TestAckOffOnTheToken(t *testing.T) {
	h := &hec{acks: map[int64]int{}} // answers without ackId
	srv := httptest.NewServer(h)
	defer srv.Close()
	s := openSink(t, srv.URL, func(c *Config) { c.Ack = true })
	if err := s.Write(context.Background(), forwardtest.Docs(4, "n")); err != nil {
		t.Fatal(err)
	}
	if events, requests, _ := h.accepted(); len(events) != 4 || requests != 1 {
		t.Errorf("%d events in %d requests, want 4 in 1", len(events), requests)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"ok", func(c *Config) {}, ""},
		{"no url", func(c *Config) { c.URL = "" }, "url"},
		{"no token", func(c *Config) { c.Token = config.Secret{} }, "token"},
		{"ack without timeout", func(c *Config) { c.Ack, c.AckTimeout = true, 0 }, "ack_timeout"},
		{"tiny batch", func(c *Config) { c.MaxBatchBytes = 10 }, "max_batch_bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.URL, c.Token = "https://splunk:8088", config.NewSecret("t")
			tc.edit(c)
			err := c.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want an error about %q", err, tc.want)
			}
		})
	}
}
