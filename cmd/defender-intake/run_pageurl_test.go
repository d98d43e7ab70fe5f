package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/config"
)

// lockedBuffer is a log destination the service writes from several
// goroutines while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// `run` with a store sink, or only a detection sink, logs the URL of what
// it serves with the address it really bound (port 0 here: the port is
// only known after the listen), and that URL answers.
func TestRunLogsEventsPageURL(t *testing.T) {
	cases := []struct {
		name, sinks, msg, body string
	}{
		{"store sink", "  - {name: events, type: store, dir: %q}\n", "Events page", "<html"},
		{"detection sink", "  - {name: detect, type: detection, store: %q}\n", "alerts API", `"alerts"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			y := fmt.Sprintf("server: {listen: \"127.0.0.1:0\"}\ndead_letter: {path: %q}\nsources:\n  - {name: web, type: http, listen: %q}\nsinks:\n"+c.sinks,
				filepath.Join(dir, "dead.ndjson"), freePort(t), filepath.Join(dir, "data"))
			cfg, err := config.Parse("test.yaml", []byte(y))
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			var logs lockedBuffer
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- runService(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil))) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Error(err)
				}
				if _, err := os.Stat(filepath.Join(dir, "data", serverFileName)); !os.IsNotExist(err) {
					t.Errorf("run left its server record at stop: %v", err)
				}
			}()
			re := regexp.MustCompile(`msg="` + c.msg + `" url=(http://127\.0\.0\.1:(\d+)/\S*)`)
			var m []string
			for start := time.Now(); m == nil; time.Sleep(20 * time.Millisecond) {
				if m = re.FindStringSubmatch(logs.String()); m == nil && time.Since(start) > 20*time.Second {
					t.Fatalf("no %s URL logged:\n%s", c.msg, logs.String())
				}
			}
			if c.name == "store sink" {
				// search and ingest find the server in the store's directory.
				rec, err := readServerFile(filepath.Join(dir, "data"))
				if err != nil || rec.URL+"/" != m[1] || rec.Command != "run" {
					t.Errorf("server record %+v (%v), want url %s", rec, err, m[1])
				}
			}
			if m[2] == "0" {
				t.Fatalf("logged the configured port 0, not the bound one: %s", m[0])
			}
			resp, err := http.Get(m[1])
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), c.body) {
				t.Fatalf("GET %s: %d %.200s", m[1], resp.StatusCode, b)
			}
		})
	}
}
