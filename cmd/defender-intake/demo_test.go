package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/defender-intake/defender-intake/internal/alertapi"
	"github.com/defender-intake/defender-intake/internal/sample"
	"github.com/defender-intake/defender-intake/internal/store"
)

// The real binary: `demo` loads every sample record into a fresh store in
// a temporary directory, runs detection, serves the page on the address
// it prints (with the sample moved to end now, the API's default range,
// the last 24 hours, shows all of it), and on SIGINT exits 0 and removes
// its store.
func TestDemo(t *testing.T) {
	bin := buildBinary(t)
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "demo", "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var printed []string
	var addr, dir string
	for addr == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo exited before printing its address:\n%s\nstderr:\n%s", strings.Join(printed, "\n"), stderr.String())
			}
			printed = append(printed, l)
			if rest, ok := strings.CutPrefix(l, "Events page: http://"); ok {
				addr = strings.TrimSuffix(rest, "/")
			}
			if i := strings.Index(l, " into "); strings.HasPrefix(l, "loaded ") && i > 0 {
				dir = l[i+len(" into "):]
			}
		case <-ctx.Done():
			t.Fatalf("no address printed:\n%s\nstderr:\n%s", strings.Join(printed, "\n"), stderr.String())
		}
	}
	if !strings.HasPrefix(dir, tmp) {
		t.Fatalf("store directory %q is not a new temporary directory (TMPDIR %s); output:\n%s", dir, tmp, strings.Join(printed, "\n"))
	}
	get := func(path string, v any) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}

	// Every sample record, of every table, in the page's default range.
	recs, _, err := sample.Records(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, r := range recs {
		want[fastjson.GetString(r, "category")] = true
	}
	var events struct {
		Events []struct {
			ID uint64 `json:"id"`
		} `json:"events"`
		Total int `json:"total"`
	}
	get("/api/events?limit=500", &events)
	if events.Total != len(recs) || len(events.Events) != len(recs) {
		t.Errorf("GET /api/events (last 24 hours): %d events (total %d), want the %d sample records", len(events.Events), events.Total, len(recs))
	}
	got := map[string]bool{}
	for _, e := range events.Events {
		var full struct {
			Message string `json:"message"`
		}
		get("/api/events/"+strconv.FormatUint(e.ID, 10), &full)
		got[fastjson.GetString([]byte(full.Message), "category")] = true
	}
	for c := range want {
		if !got[c] {
			t.Errorf("no %s event in the demo store", c)
		}
	}
	var al alertapi.Response
	get("/api/alerts", &al)
	if al.Total < 1 || len(al.Alerts) != al.Total {
		t.Errorf("GET /api/alerts: %d alerts (total %d), want at least one", len(al.Alerts), al.Total)
	}
	for _, a := range al.Alerts {
		if a.Author == "" || a.Level == "" || len(a.EventIDs) == 0 {
			t.Errorf("alert without author, level or events: %+v", a)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for l := range lines {
		printed = append(printed, l)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo after SIGINT: %v\nstdout:\n%s\nstderr:\n%s", err, strings.Join(printed, "\n"), stderr.String())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the demo store %s is still there after exit (%v)", dir, err)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) > 0 {
		t.Errorf("left in TMPDIR: %v", left)
	}
	out := strings.Join(printed, "\n")
	for _, w := range []string{"their times were moved by", "detection: ", "Alerts view: http://" + addr + "/?view=alerts", "removed the demo store"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// demo refuses a directory that already holds a store (the sample would
// be there twice) and bad flags, before loading anything.
func TestDemoRefuses(t *testing.T) {
	data := t.TempDir()
	st, err := store.Open(context.Background(), store.Config{Dir: data}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"existing store", []string{"--data", data, "--listen", "127.0.0.1:0"}, 1, "already holds a store"},
		{"argument", []string{"extra"}, 2, `unexpected argument "extra"`},
		{"exposed without a token", []string{"--listen", "0.0.0.0:0"}, 2, "set a token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("DEFENDER_INTAKE_WEB_TOKEN", "")
			var out, errb strings.Builder
			code := dispatch(append([]string{"demo"}, tc.args...), nil, &out, &errb)
			if code != tc.code || !strings.Contains(errb.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errb.String(), tc.code, tc.want)
			}
		})
	}
}
