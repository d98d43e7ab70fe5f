package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/alertapi"
	"github.com/defender-intake/defender-intake/internal/detect/alerts"
	"github.com/defender-intake/defender-intake/internal/detect/detectsink"
	"github.com/defender-intake/defender-intake/internal/store"
	"github.com/defender-intake/defender-intake/internal/store/storesink"
	"github.com/defender-intake/defender-intake/internal/web"
)

// buildBinary builds the real defender-intake binary into a test dir.
func buildBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "defender-intake")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func e2eProc(host, cmdline, ts string) string {
	return fmt.Sprintf(`{"time":%q,"category":"AdvancedHunting-DeviceProcessEvents","properties":{"Timestamp":%q,"DeviceName":%q,"ActionType":"ProcessCreated","FolderPath":"C:\\Windows\\System32\\cmd.exe","FileName":"cmd.exe","ProcessCommandLine":%q,"AccountDomain":"corp","AccountName":"jdoe"}}`, ts, ts, host, cmdline)
}

const e2eAlertInfo = `{"time":"2026-11-20T09:05:00Z","category":"AdvancedHunting-AlertInfo","properties":{"Timestamp":"2026-11-20T09:05:00Z","AlertId":"da555","Title":"Suspicious PowerShell","ServiceSource":"Microsoft Defender for Endpoint","Category":"Execution","Severity":"Low"}}`

const e2eWhoamiRule = `title: Whoami
id: 7d0c5e4e-0000-4000-8000-000000000001
author: Test Author
logsource: {product: windows, category: process_creation}
detection: {sel: {CommandLine|contains: whoami}, condition: sel}
level: medium
`

const e2eNetUserRule = `title: Net user
id: 7d0c5e4e-0000-4000-8000-000000000002
author: Test Author
logsource: {product: microsoft_defender_xdr}
detection: {sel: {process.command_line|contains: 'net user'}, condition: sel}
level: high
`

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o640); err != nil {
		t.Fatal(err)
	}
}

// alertsByTitle is the alert file's current state: title@host -> alert.
func alertsByTitle(t *testing.T, path string) map[string]alerts.Alert {
	t.Helper()
	as, err := detectsink.ReadAlerts(path, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return byTitle(as)
}

// storedAlerts is the alerts table of the store in dir (no process may
// have it open): title@host -> alert.
func storedAlerts(t *testing.T, dir string) map[string]alerts.Alert {
	t.Helper()
	st, err := storesink.AcquireDir(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer storesink.Release(st)
	page, err := st.Alerts(context.Background(), store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return byTitle(page.Alerts)
}

func byTitle(as []alerts.Alert) map[string]alerts.Alert {
	out := map[string]alerts.Alert{}
	for _, a := range as {
		out[a.Title+"@"+a.Host] = a
	}
	return out
}

// The real binary: a file source on a records file, a file sink, a store
// sink and the detection sink (with a rule directory plus the built-in
// rules, and the optional alert file) on the same store directory. The
// source ends at the end of the file, so the service stops by itself;
// then the store holds the events and their alerts, and the alert file
// the same alerts.
func TestRunDetectionEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	records := strings.Join([]string{
		e2eProc("ws1", "whoami /all", "2026-11-20T09:00:00Z"),
		e2eProc("ws1", "cmd /c whoami", "2026-11-20T09:01:00Z"),
		e2eProc("srv1", "net user eve P@ss /add", "2026-11-20T09:02:00Z"),
		e2eProc("ws2", "notepad.exe", "2026-11-20T09:03:00Z"),
		`{"records":[` + e2eAlertInfo + `]}`,
		`this line is not JSON`,
	}, "\n") + "\n"
	writeFile(t, filepath.Join(dir, "in", "records.ndjson"), records)
	writeFile(t, filepath.Join(dir, "rules", "whoami.yml"), e2eWhoamiRule)
	writeFile(t, filepath.Join(dir, "rules", "custom", "netuser.yml"), e2eNetUserRule)
	alertFile := filepath.Join(dir, "alerts", "alerts.ndjson")
	data := filepath.Join(dir, "data")
	// The detection sink comes first: it still shares the store sink's
	// store, opened with the store sink's retention.
	writeFile(t, filepath.Join(dir, "config.yaml"), fmt.Sprintf(`
server: {listen: ""}
dead_letter: {path: %q}
sources:
  - {name: in, type: file, paths: [%q]}
sinks:
  - {name: ecs, type: file, path: %q}
  - name: detect
    type: detection
    rules: {dirs: [%q]}
    store: %q
    file: %q
  - {name: events, type: store, dir: %q, max_age: 8760h}
`, filepath.Join(dir, "dead.ndjson"), filepath.Join(dir, "in", "*.ndjson"), filepath.Join(dir, "ecs.ndjson"), filepath.Join(dir, "rules"), data, alertFile, data))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "--config", filepath.Join(dir, "config.yaml"))
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the service did not stop by itself within 60s:\n%s", out)
	}
	// The line that is not JSON is dead-lettered: a run that ended by
	// itself says so with exit status 1.
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(out), "1 input(s) could not be normalized") {
		t.Fatalf("run: exit %d (%v), want 1\n%s", code, err, out)
	}

	got := storedAlerts(t, data)
	want := map[string]struct {
		level string
		count int
	}{
		"Whoami@ws1":             {"medium", 2},
		"Net user@srv1":          {"high", 1},
		"Suspicious PowerShell@": {"low", 1}, // built-in rule: Defender's title and severity
	}
	if len(got) != len(want) {
		t.Errorf("alerts %v, want %v\nlog:\n%s", got, want, out)
	}
	for k, w := range want {
		a, ok := got[k]
		if !ok {
			t.Errorf("no alert %q; log:\n%s", k, out)
			continue
		}
		if a.Level != w.level || a.Count != w.count {
			t.Errorf("%s: level %s count %d, want %s %d", k, a.Level, a.Count, w.level, w.count)
		}
	}
	if file := alertsByTitle(t, alertFile); len(file) != len(got) {
		t.Errorf("alert file holds %d alerts, the store %d", len(file), len(got))
	}
	// Detection held nothing back: every record reached the file sink,
	// the bad line the dead-letter file.
	ecs, err := os.ReadFile(filepath.Join(dir, "ecs.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(ecs), "\n"); n != 5 {
		t.Errorf("file sink has %d documents, want 5", n)
	}
	if dead, _ := os.ReadFile(filepath.Join(dir, "dead.ndjson")); !strings.Contains(string(dead), "this line is not JSON") {
		t.Errorf("dead-letter file: %q", dead)
	}
	if _, err := os.Stat(alertFile + ".state.json"); err != nil { // beside the alert file when there is one
		t.Errorf("correlation state not saved at stop: %v", err)
	}
}

// The running binary reloads its rules on SIGHUP and serves the alerts it
// keeps in the store (no alert file) on GET /api/alerts, next to the
// Events page of the store sink sharing that store.
func TestRunDetectionReloadAndAPI(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	server := freePort(t)
	input := filepath.Join(dir, "in", "records.ndjson")
	writeFile(t, input, e2eProc("srv1", "net user a /add", "2026-11-20T09:00:00Z")+"\n")
	writeFile(t, filepath.Join(dir, "rules", "whoami.yml"), e2eWhoamiRule)
	data := filepath.Join(dir, "data")
	writeFile(t, filepath.Join(dir, "config.yaml"), fmt.Sprintf(`
server: {listen: %q}
dead_letter: {path: %q}
sources:
  - {name: in, type: file, paths: [%q], follow: true, poll_interval: 50ms}
sinks:
  - name: detect
    type: detection
    rules: {dirs: [%q], no_builtin: true}
    store: %q
  - {name: events, type: store, dir: %q}
`, server, filepath.Join(dir, "dead.ndjson"), input, filepath.Join(dir, "rules"), data, data))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var log strings.Builder
	cmd := exec.CommandContext(ctx, bin, "run", "--config", filepath.Join(dir, "config.yaml"))
	cmd.Stdout, cmd.Stderr = &log, &log
	const token = "alerts-test-token"
	cmd.Env = append(os.Environ(), web.TokenEnv+"="+token)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	apiAlerts := func(query string) alertapi.Response {
		t.Helper()
		var r alertapi.Response
		for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
			req, _ := http.NewRequest(http.MethodGet, "http://"+server+"/api/alerts"+query, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("GET /api/alerts%s: %d %s", query, resp.StatusCode, body)
				}
				if err := json.Unmarshal(body, &r); err != nil {
					t.Fatal(err)
				}
				return r
			}
			if time.Since(start) > 20*time.Second {
				t.Fatalf("GET /api/alerts: %v\nlog:\n%s", err, log.String())
			}
		}
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\nlog:\n%s", what, log.String())
			}
		}
	}
	appendRecords := func(lines ...string) {
		f, err := os.OpenFile(input, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.WriteString(strings.Join(lines, "\n") + "\n")
	}

	appendRecords(e2eProc("ws1", "whoami", "2026-11-20T09:01:00Z"))
	waitFor("the whoami alert", func() bool { return apiAlerts("").Total == 1 })
	if r := apiAlerts(""); r.Alerts[0].Title != "Whoami" {
		t.Fatalf("alerts before reload: %+v", r.Alerts)
	}

	// New rule, SIGHUP, then a record only it matches.
	writeFile(t, filepath.Join(dir, "rules", "netuser.yml"), e2eNetUserRule)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("the reload", func() bool { return strings.Contains(log.String(), "detection rules reloaded") })
	appendRecords(e2eProc("srv2", "net user b /add", "2026-11-20T09:02:00Z"))
	waitFor("the net user alert", func() bool { return apiAlerts("").Total == 2 })

	tests := []struct {
		query string
		want  []string // titles@host, newest first
	}{
		{"", []string{"Net user@srv2", "Whoami@ws1"}},
		{"?level=high", []string{"Net user@srv2"}},
		{"?level=low&level=medium", []string{"Whoami@ws1"}},
		{"?host=WS1", []string{"Whoami@ws1"}},
		{"?rule=7d0c5e4e-0000-4000-8000-000000000002", []string{"Net user@srv2"}},
		{"?rule=whoam", []string{"Whoami@ws1"}},
		{"?limit=1", []string{"Net user@srv2"}},
		{"?host=nobody", nil},
	}
	for _, tc := range tests {
		r := apiAlerts(tc.query)
		var got []string
		for _, a := range r.Alerts {
			got = append(got, a.Title+"@"+a.Host)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("GET /api/alerts%s = %v, want %v", tc.query, got, tc.want)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+server+"/api/alerts?limit=0", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 400 {
		t.Errorf("limit=0: %v %v, want 400", resp, err)
	}
	// The alerts are behind the API token, like the Events page.
	if resp, err := http.Get("http://" + server + "/api/alerts"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the token: %v %v, want 401", resp, err)
	}
	// The sink's counters are on the service's /metrics.
	resp, err := http.Get("http://" + server + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{
		`defender_intake_detection_rule_reloads_total{result="ok",sink="detect"} 1`,
		`defender_intake_detection_documents_total{result="evaluated",sink="detect"} 3`,
		`defender_intake_detection_alert_lines_total{sink="detect"} 2`,
	} {
		if !strings.Contains(string(metrics), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	// The events of the alerts are on the Events page of the same store.
	req, _ = http.NewRequest(http.MethodGet, "http://"+server+"/api/events?from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z&q=host.name:srv2", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	var events struct{ Total int }
	for deadline := time.Now().Add(20 * time.Second); events.Total != 1; time.Sleep(100 * time.Millisecond) {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&events)
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatalf("GET /api/events: %d events of srv2, want 1", events.Total)
		}
	}
	// The first net user record came before the rule: no alert for srv1.
	if r := apiAlerts("?host=srv1"); r.Total != 0 {
		t.Errorf("a record read before the reload was matched by the new rule: %+v", r.Alerts)
	}
	// Stopped, the store holds the same alerts.
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run after SIGTERM: %v\nlog:\n%s", err, log.String())
	}
	if got := storedAlerts(t, data); len(got) != 2 || got["Whoami@ws1"].Count != 1 || got["Net user@srv2"].Count != 1 {
		t.Errorf("alerts in the store after stopping: %v", got)
	}
	if _, err := os.Stat(filepath.Join(data, "detection-detect.state.json")); err != nil {
		t.Errorf("correlation windows not saved beside the store: %v", err)
	}
}
