package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// search and ingest beside a real `serve` process holding a real store:
// search goes through the server's API and prints what it prints on the
// store itself (table and NDJSON, query errors with their caret); with a
// token the server needs, it uses $DEFENDER_INTAKE_WEB_TOKEN or
// --token-file, and says what is missing without; ingest says in one line
// which process holds the store. serve removes its record at stop.
func TestCLIBesideRunningServe(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	var so, se bytes.Buffer
	if code := dispatch([]string{"ingest", "--quiet", "--data", data, filepath.Join("..", "..", "examples", "defender-sample.ndjson")}, nil, &so, &se); code != 0 {
		t.Fatalf("ingest: %d %s", code, se.String())
	}
	rng := []string{"--data", data, "--from", "2026-11-01T00:00:00Z", "--to", "2026-12-01T00:00:00Z"}
	searches := [][]string{
		append(append([]string{"search"}, rng...), "host.name:*"),
		append(append([]string{"search"}, rng...), "--format", "ndjson", "--limit", "3", "process.name:*"),
		append(append([]string{"search"}, rng...), "--limit", "0", ""),
		append(append([]string{"search"}, rng...), "host.nam:x"),
	}
	type result struct {
		code           int
		stdout, stderr string
	}
	run := func(env []string, args ...string) result {
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		var o, e bytes.Buffer
		code := dispatch(args, nil, &o, &e)
		return result{code, o.String(), e.String()}
	}
	// What search prints on the store itself, no server running.
	want := make([]result, len(searches))
	for i, a := range searches {
		want[i] = run(nil, a...)
	}
	if want[0].code != 0 || strings.Count(want[0].stdout, "\n") < 3 || want[3].code != 2 {
		t.Fatalf("local search: %+v", want[0])
	}
	tokenFile := filepath.Join(dir, "token")
	writeFile(t, tokenFile, "s3cret-token-for-test\n")
	for _, withToken := range []bool{false, true} {
		name := "no token"
		if withToken {
			name = "token"
		}
		t.Run(name, func(t *testing.T) {
			args := []string{"serve", "--data", data, "--listen", "127.0.0.1:0"}
			if withToken {
				args = append(args, "--token-file", tokenFile)
			}
			cmd := exec.Command(bin, args...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			var rec serverRecord
			for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
				var err error
				if rec, err = readServerFile(data); err == nil {
					break
				}
				if time.Since(start) > 30*time.Second {
					t.Fatalf("serve recorded no address: %v\n%s", err, out.String())
				}
			}
			if rec.PID != cmd.Process.Pid || rec.TokenRequired != withToken || strings.HasSuffix(rec.URL, ":0") {
				t.Fatalf("record %+v (serve pid %d)", rec, cmd.Process.Pid)
			}
			if b, _ := os.ReadFile(filepath.Join(data, serverFileName)); bytes.Contains(b, []byte("s3cret")) {
				t.Fatal("the record holds the token")
			}
			var env []string
			if withToken {
				// Without the token: one line saying what to give.
				t.Setenv("DEFENDER_INTAKE_WEB_TOKEN", "")
				if r := run(nil, searches[0]...); r.code != 2 || !strings.Contains(r.stderr, "needs its API token") || r.stdout != "" {
					t.Errorf("search without the token: %+v", r)
				}
				if r := run(nil, append([]string{"search", "--token-file", tokenFile}, searches[0][1:]...)...); r.code != 0 || r.stdout != want[0].stdout {
					t.Errorf("search --token-file: %+v", r)
				}
				env = []string{"DEFENDER_INTAKE_WEB_TOKEN=s3cret-token-for-test"}
			}
			for i, a := range searches {
				got := run(env, a...)
				if got.code != want[i].code || got.stdout != want[i].stdout {
					t.Errorf("%v through serve: exit %d, want %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", a, got.code, want[i].code, got.stdout, want[i].stdout, got.stderr)
				}
				if !strings.Contains(got.stderr, "searching through its API") || !strings.Contains(got.stderr, strings.TrimPrefix(want[i].stderr, "search: ")) {
					t.Errorf("%v through serve: stderr %q, want %q after the API note", a, got.stderr, want[i].stderr)
				}
			}
			r := run(nil, "ingest", "--quiet", "--data", data, filepath.Join("..", "..", "examples", "defender-sample.ndjson"))
			if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "process "+strconv.Itoa(cmd.Process.Pid)) ||
				!strings.Contains(r.stderr, "defender-intake serve") || strings.Contains(r.stderr, "Could not set lock") {
				t.Errorf("ingest beside serve: %+v", r)
			}
			// A holder that recorded no address (run without
			// server.listen): one line naming its pid, not DuckDB's.
			os.Rename(filepath.Join(data, serverFileName), filepath.Join(dir, "saved.json"))
			r = run(nil, searches[0]...)
			if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "process "+strconv.Itoa(cmd.Process.Pid)) || strings.Contains(r.stderr, "Could not set lock") {
				t.Errorf("search beside a holder without a record: %+v", r)
			}
			os.Rename(filepath.Join(dir, "saved.json"), filepath.Join(data, serverFileName))
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			if _, err := os.Stat(filepath.Join(data, serverFileName)); !os.IsNotExist(err) {
				t.Errorf("serve left its record at stop: %v", err)
			}
		})
	}
}
