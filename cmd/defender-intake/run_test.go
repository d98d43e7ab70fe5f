package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
)

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// The service end to end in-process: HTTP source, real envelope splitting
// and normalization, file sink, dead-letter file, and the server's
// /healthz, /readyz and /metrics.
func TestServiceEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ingest, server := freePort(t), freePort(t)
	y := fmt.Sprintf(`
server: {listen: %q}
dead_letter: {path: %q}
sources:
  - {name: web, type: http, listen: %q}
sinks:
  - {name: out, type: file, path: %q}
`, server, filepath.Join(dir, "dead.ndjson"), ingest, filepath.Join(dir, "out.ndjson"))
	cfg, err := config.Parse("test.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runService(ctx, cfg, slog.New(slog.DiscardHandler)) }()

	get := func(path string) (int, string) {
		for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
			resp, err := http.Get("http://" + server + path)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return resp.StatusCode, string(b)
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("GET %s: %v", path, err)
			}
		}
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if code, _ := get("/readyz"); code == 200 {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("/readyz never 200")
		}
	}

	post := func(body []byte) int {
		for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
			resp, err := http.Post("http://"+ingest+"/ingest", "application/json", bytes.NewReader(body))
			if err == nil {
				resp.Body.Close()
				return resp.StatusCode
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("POST: %v", err)
			}
		}
	}
	recs := deliverytest.Records(30, "e2e")
	if code := post(deliverytest.Envelope(recs[:20])); code != 200 {
		t.Fatalf("POST envelope = %d", code)
	}
	if code := post(bytes.Join(recs[20:], []byte("\n"))); code != 200 {
		t.Fatalf("POST NDJSON = %d", code)
	}
	if code := post([]byte("\xff\xfe not json")); code != 400 {
		t.Fatalf("POST garbage = %d, want 400 (no usable record; it is dead-lettered)", code)
	}
	if code := post([]byte("   ")); code != 200 {
		t.Fatalf("POST empty = %d", code)
	}

	// Answered 200 means durable: the documents are in the file now.
	docs := deliverytest.ReadNDJSON(t, filepath.Join(dir, "out.ndjson"))
	if missing, ex, dups := deliverytest.Check(deliverytest.Count(docs), deliverytest.IDs(30, "e2e")); missing > 0 || dups > 0 {
		t.Fatalf("missing %d (e.g. %s), duplicates %d", missing, ex, dups)
	}
	var doc map[string]any
	if err := json.Unmarshal(docs[0], &doc); err != nil {
		t.Fatal(err)
	}
	origin, _ := doc["defender_intake"].(map[string]any)["origin"].(map[string]any)
	if origin["source"] != "web" || origin["type"] != "http" || origin["stream"] != "/ingest" || origin["partition"] != "http" {
		t.Errorf("origin fields = %v", origin)
	}
	if ev, _ := doc["event"].(map[string]any); ev["ingested"] == nil || ev["dataset"] != "device_process_events" {
		t.Errorf("event = %v", ev)
	}
	dead := deliverytest.ReadNDJSON(t, filepath.Join(dir, "dead.ndjson"))
	if len(dead) != 1 || !strings.Contains(string(dead[0]), `"raw_base64"`) || !strings.Contains(string(dead[0]), `"source":"web"`) {
		t.Errorf("dead letters = %s", dead)
	}

	_, metrics := get("/metrics")
	for _, want := range []struct {
		series string
		value  float64
	}{
		// One message per record, per bad stretch and per empty body.
		{`defender_intake_messages_received_total{partition="http",source="web"}`, 32},
		{`defender_intake_records_received_total{partition="http",source="web"}`, 30},
		{`defender_intake_records_normalized_total{dataset="device_process_events",source="web"}`, 30},
		{`defender_intake_dead_lettered_total{source="web",stage="source"}`, 1}, // the source splits HTTP bodies
		{`defender_intake_empty_messages_total{source="web"}`, 1},
		{`defender_intake_sink_documents_total{sink="out"}`, 30},
		{`defender_intake_sink_write_seconds_count{sink="out"}`, 2},
	} {
		if got := metricValue(metrics, want.series); got != want.value {
			t.Errorf("%s = %v, want %v", want.series, got, want.value)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("service did not stop")
	}
	if _, err := os.Stat(filepath.Join(dir, "out.ndjson")); err != nil {
		t.Fatal(err)
	}
}

func metricValue(exposition, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(exposition)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}
