package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/alertapi"
	"github.com/defender-intake/defender-intake/internal/detect/alerts"
	"github.com/defender-intake/defender-intake/internal/store"
)

// serve --alerts names an alert file that must exist: a typo is an error at
// start, not an Alerts view that says the server has no alerts.
func TestServeAlertsFlag(t *testing.T) {
	data := t.TempDir()
	st, err := store.Open(context.Background(), store.Config{Dir: data}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	missing := filepath.Join(t.TempDir(), "alerts.ndjson")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"--alerts", missing}, "serve: --alerts: stat " + missing},
		{"empty name", []string{"--alerts", ""}, "empty file name"},
		{"second one missing", []string{"--alerts", filepath.Join(data, store.FileName), "--alerts", missing}, "serve: --alerts: stat " + missing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := dispatch(append([]string{"serve", "--data", data, "--listen", "127.0.0.1:0"}, tt.args...), nil, &out, &errb)
			if code != 2 || !strings.Contains(errb.String(), tt.want) {
				t.Errorf("code %d, stderr %q; want 2 and %q", code, errb.String(), tt.want)
			}
		})
	}
}

// serve --data DIR answers GET /api/alerts from the store's alerts table;
// --alerts FILE imports an alert file of an earlier version first.
func TestServeAlertsFromTheStore(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{Dir: data}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	inStore := alerts.Alert{ID: "s1", RuleID: "r1", RuleTitle: "Whoami", Title: "Whoami", Level: "medium", Host: "ws1", FirstSeen: t0, LastSeen: t0, Count: 2}
	if err := st.PutAlerts(ctx, []alerts.Alert{inStore}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(t.TempDir(), "alerts.ndjson")
	writeFile(t, old, `{"change":"created","alert":{"id":"f1","rule_id":"r2","rule_title":"Net user","title":"Net user","level":"high","host":"srv1","count":1,"first_seen":"2026-11-20T10:00:00Z","last_seen":"2026-11-20T10:00:00Z"}}`+"\n")

	cmd := exec.Command(bin, "serve", "--data", data, "--listen", "127.0.0.1:0", "--alerts", old)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	var addr string
	var printed []string
	for addr == "" && sc.Scan() {
		printed = append(printed, sc.Text())
		if rest, ok := strings.CutPrefix(sc.Text(), "Events page: http://"); ok {
			addr = strings.TrimSuffix(rest, "/")
		}
	}
	if addr == "" {
		t.Fatalf("no address printed: %q\n%s", printed, stderr.String())
	}
	if !strings.Contains(strings.Join(printed, "\n"), "imported 1 alert(s) from "+old) {
		t.Errorf("output %q does not report the import", printed)
	}
	resp, err := http.Get("http://" + addr + "/api/alerts")
	if err != nil {
		t.Fatal(err)
	}
	var r alertapi.Response
	err = json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/alerts: %d %v", resp.StatusCode, err)
	}
	var ids []string
	for _, a := range r.Alerts {
		ids = append(ids, a.ID)
	}
	if r.Total != 2 || strings.Join(ids, ",") != "f1,s1" {
		t.Errorf("GET /api/alerts: %v (total %d), want f1,s1", ids, r.Total)
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve after SIGINT: %v\n%s", err, stderr.String())
	}
}
