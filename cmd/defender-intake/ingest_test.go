package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/store"
	"github.com/defender-intake/defender-intake/internal/store/storesink"
	"github.com/defender-intake/defender-intake/internal/web"
)

// ingest, then search and serve the same data directory, through the real
// commands.
func TestIngestSearchServe(t *testing.T) {
	data := t.TempDir()
	in := filepath.Join(t.TempDir(), "in.ndjson")
	sample, err := os.ReadFile(filepath.Join("..", "..", "examples", "defender-sample.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	// one broken line: it must be dead-lettered, not lost or fatal
	if err := os.WriteFile(in, append(append(sample, []byte("{not json\n")...), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := dispatch([]string{"ingest", "--data", data, "--quiet", in}, nil, &out, &errb)
	if code != 1 || !strings.Contains(out.String(), "ingested 43 documents") || !strings.Contains(out.String(), "1 input(s) could not be normalized") {
		t.Fatalf("ingest: code %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	dl, err := os.ReadFile(filepath.Join(data, "dead-letter.ndjson"))
	if err != nil || !strings.Contains(string(dl), "{not json") {
		t.Fatalf("dead letter: %v %q", err, dl)
	}

	tests := []struct {
		args   []string
		code   int
		lines  int
		want   string
		stderr string
	}{
		{[]string{"--from", "2026-11-01", "--to", "2026-12-01", "process.name:powershell.exe"}, 0, 6, "powershell.exe", ""},
		{[]string{"--from", "2026-11-01", "--to", "2026-12-01", "--format", "ndjson", "event.dataset:alert_info"}, 0, 3, `"dataset":"alert_info"`, ""},
		{[]string{"--from", "2026-11-01", "--to", "2026-12-01", "--limit", "2", ""}, 0, 3, "@timestamp", ""},
		{[]string{"host.nme:x"}, 2, 0, "", ""},
		// The sample's events are from 2026-11-20: without --from and --to,
		// search falls back to the 24 hours up to the newest event...
		{[]string{"process.name:powershell.exe"}, 0, 6, "powershell.exe", "searching the 24 hours up to the newest event (2026-11-19T12:09:00Z to 2026-11-20T12:09:00Z"},
		// ...and a range the user chose is kept, with a hint when it is empty.
		{[]string{"--from", "now-7d", "process.name:powershell.exe"}, 0, 1, "@timestamp", "the store holds 43 events from 2026-11-20T07:57:58Z to 2026-11-20T12:08:59Z: --from 2026-11-20T07:57:58Z covers them"},
	}
	for _, tt := range tests {
		out.Reset()
		errb.Reset()
		code := dispatch(append([]string{"search", "--data", data}, tt.args...), nil, &out, &errb)
		if code != tt.code {
			t.Errorf("search %q: code %d (%s)", tt.args, code, errb.String())
			continue
		}
		if got := strings.Count(out.String(), "\n"); got != tt.lines {
			t.Errorf("search %q: %d lines, want %d:\n%s", tt.args, got, tt.lines, out.String())
		}
		if !strings.Contains(out.String(), tt.want) {
			t.Errorf("search %q: output lacks %q", tt.args, tt.want)
		}
		if !strings.Contains(errb.String(), tt.stderr) {
			t.Errorf("search %q: stderr %q lacks %q", tt.args, errb.String(), tt.stderr)
		}
	}

	// serve: the same handler the command mounts, on the ingested store
	st, err := store.Open(context.Background(), store.Config{Dir: data}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var sout bytes.Buffer
	go func() {
		done <- serveHTTP(ctx, ln, web.New(web.Options{Store: st}), &sout, nil, served{dir: data, command: "serve"})
	}()
	resp, err := http.Get("http://" + ln.Addr().String() + "/api/stats")
	if err != nil {
		t.Fatal(err)
	}
	var stats struct {
		Stats store.Stats `json:"stats"`
	}
	json.NewDecoder(resp.Body).Decode(&stats)
	resp.Body.Close()
	if stats.Stats.Events != 43 {
		t.Errorf("served stats: %+v", stats.Stats)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(sout.String(), "Events page: http://127.0.0.1:") {
		t.Errorf("serve printed %q", sout.String())
	}
}

func TestServeRefusesExposureWithoutToken(t *testing.T) {
	t.Setenv(web.TokenEnv, "")
	var out, errb bytes.Buffer
	code := dispatch([]string{"serve", "--data", t.TempDir(), "--listen", "0.0.0.0:0"}, nil, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "set a token") {
		t.Errorf("code %d: %s", code, errb.String())
	}
}

// run mounts the Events page over a configured store sink, next to the
// other handlers on its mux.
func TestEventsPageMountedInRun(t *testing.T) {
	f, ok := sink.Lookup("store")
	if !ok {
		t.Fatal("the store sink type is not registered in the binary")
	}
	sec := f.NewSection().(*storesink.Config)
	sec.Dir = t.TempDir()
	sk, err := f.OpenSink("events", sec, sink.Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer sk.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("GET /api/alerts", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("alerts")) })
	if _, err := mountEventsPage(mux, map[string]sink.Sink{"events": sk}, config.Server{}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tests := []struct {
		path, want string
	}{
		{"/healthz", "ok"},
		{"/api/alerts", "alerts"},
		{"/api/stats", `"events":0`},
		{"/", "<title>Events"},
		{"/app.js", "use strict"},
	}
	for _, tt := range tests {
		resp, err := http.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), tt.want) {
			t.Errorf("%s: %d %q", tt.path, resp.StatusCode, body)
		}
	}
	// without a store sink nothing is mounted
	if _, err := mountEventsPage(http.NewServeMux(), map[string]sink.Sink{}, config.Server{}); err != nil {
		t.Fatal(err)
	}
}
