package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/sample"
	"github.com/defender-intake/defender-intake/internal/web"
)

// Every shell command the documentation shows does what it promises, as
// written, on the shipped sample. The rules:
//
//   - The commands are the lines of the ```sh blocks of README.md and
//     docs/*.md; a line ending in `\` or `|` goes on to the next one.
//   - Each block runs in a fresh directory holding a copy of examples/ and
//     the files a reader is assumed to have (docReaderFiles), as if typed
//     in a clone of the repository; `go run ./cmd/defender-intake` and
//     `defender-intake` are the binary built from this package.
//   - Each command must exit 0 and give the result docCommandChecks
//     states for it (search prints events, normalize prints every record,
//     ...); a command with no check fails the test, so a new one cannot
//     go unchecked.
//   - `demo`, `serve` and `run` are started, probed over HTTP (the page,
//     and the API answering with the sample's events) and stopped with
//     SIGINT, after which they must exit 0.
//   - A command that needs a running service gets it from docServices;
//     one that cannot run here is in docCommandSkips, with the reason.
func TestDocCommandsRun(t *testing.T) {
	blocks := fencedBlocks(t, "sh")
	if len(blocks) < 8 {
		t.Fatalf("found only %d sh blocks: is the extraction broken?", len(blocks))
	}
	records, _, err := sample.Records(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	env := docEnv{bin: t.TempDir(), records: len(records)}
	if err := os.Symlink(buildBinary(t), filepath.Join(env.bin, "defender-intake")); err != nil {
		t.Fatal(err)
	}
	// Hold the default port (when it is free), so that serve and demo, as
	// written, show that they move to a free one as the docs say.
	if ln, err := net.Listen("tcp", "127.0.0.1:8080"); err == nil {
		defer ln.Close()
	}
	ran, blocksRun := 0, 0
	for _, b := range blocks {
		t.Run(b.where, func(t *testing.T) {
			blocksRun++
			dir := env.workDir(t)
			for _, line := range shellCommands(b.text) {
				command := strings.ReplaceAll(line, "go run ./cmd/defender-intake", "defender-intake")
				if reason, ok := docCommandSkip(command); ok {
					t.Logf("not run: %s\n  (%s)", line, reason)
					continue
				}
				ran++
				if svc, ok := docServices[serviceKey(command)]; ok {
					stop := svc(t, env, dir)
					env.run(t, dir, command)
					stop()
					continue
				}
				env.run(t, dir, command)
			}
		})
	}
	if blocksRun == len(blocks) && ran < 10 { // not when -run picks some blocks
		t.Errorf("only %d documented commands ran", ran)
	}
}

// docCommandSkips are the documented commands (or their beginnings) that
// this test does not run, and why. Keep it short: each entry is a promise
// of the documentation that no test keeps.
var docCommandSkips = []struct{ prefix, reason string }{
	// `go test` runs this repository's tests and benchmarks, not the
	// binary: minutes of CPU (the 10M-event benchmark builds its store in
	// about 13 minutes), and `go test ./...` would run this test again.
	// CI runs the tests itself (.ci/run).
	{"go test ", "go test: the repository's own tests and benchmarks, run by CI"},
	// config.yaml is the reader's copy of examples/config.yaml: an Event
	// Hub in Azure, with its checkpoint store. `config check` of it runs.
	{"defender-intake run --config config.yaml", "needs an Azure Event Hub"},
	// Reads a live Event Hub (the estimate of a file runs).
	{"defender-intake estimate --config ", "needs an Azure Event Hub"},
}

func docCommandSkip(command string) (string, bool) {
	for _, s := range docCommandSkips {
		if strings.HasPrefix(command, s.prefix) {
			return s.reason, true
		}
	}
	return "", false
}

// shellCommands splits a sh block into commands: comments and blank lines
// are dropped, and a line ending in `\` or `|` continues on the next.
func shellCommands(block string) []string {
	var out []string
	cur := ""
	for _, l := range strings.Split(block, "\n") {
		l = strings.TrimSpace(l)
		if cur == "" && (l == "" || strings.HasPrefix(l, "#")) {
			continue
		}
		cur += l
		switch {
		case strings.HasSuffix(cur, "\\"):
			cur = strings.TrimSuffix(cur, "\\")
		case strings.HasSuffix(cur, "|"):
			cur += " "
		default:
			out = append(out, cur)
			cur = ""
		}
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

// docReaderFiles are the files the documentation assumes the reader has,
// beside the clone: their own config (examples/config.yaml), an export of
// the stream (the sample), and a directory of Sigma rules.
var docReaderFiles = map[string]string{
	"config.yaml":   "", // a copy of examples/config.yaml
	"export.ndjson": "", // a copy of the sample
	"path/to/sigma/rules/powershell.yml": `title: PowerShell started
id: 5b0f7a3e-0000-4000-8000-00000000d0c5
status: test
description: A process named powershell.exe starts (a fixture of the documentation test).
author: defender-intake docs test
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\powershell.exe'
  condition: selection
level: low
`,
}

const docRuleID = "5b0f7a3e-0000-4000-8000-00000000d0c5"

type docEnv struct {
	bin     string // holds the binary as defender-intake, first in PATH
	records int    // records in the shipped sample
}

// workDir is a fresh directory as a reader's clone would have it.
func (e docEnv) workDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	copyFile := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	examples := filepath.Join("..", "..", "examples")
	for _, f := range []string{"defender-sample.ndjson", "config.yaml", "README.md"} {
		copyFile(filepath.Join(examples, f), filepath.Join(dir, "examples", f))
	}
	for name, text := range docReaderFiles {
		switch name {
		case "config.yaml":
			copyFile(filepath.Join(examples, "config.yaml"), filepath.Join(dir, name))
		case "export.ndjson":
			copyFile(filepath.Join(examples, "defender-sample.ndjson"), filepath.Join(dir, name))
		default:
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The environment a reader sets for examples/config.yaml; demo's
	// store goes to a temporary directory of the test.
	cfg, _ := os.ReadFile(filepath.Join(dir, "config.yaml"))
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`).FindAllStringSubmatch(string(cfg), -1) {
		t.Setenv(m[1], dummyEnv(m[1]))
	}
	t.Setenv("INGEST_TOKEN", "doc-test-ingest-token")
	t.Setenv("TMPDIR", t.TempDir())
	t.Setenv("PATH", e.bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return dir
}

// run runs one documented command in dir and checks its result.
func (e docEnv) run(t *testing.T, dir, command string) {
	t.Helper()
	key := commandKey(command)
	check, ok := docCommandChecks[key]
	if !ok {
		t.Errorf("%s: no expected result for %q commands: add one to docCommandChecks", command, key)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", "exec "+command)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if key == "demo" || key == "serve" || key == "run" {
		e.probeService(t, ctx, cmd, command)
		return
	}
	if err := cmd.Run(); err != nil {
		t.Errorf("%s: %v\nstdout:\n%s\nstderr:\n%s", command, err, head(stdout.String()), stderr.String())
		return
	}
	if err := check(e, stdout.String(), stderr.String()); err != nil {
		t.Errorf("%s: %v\nstdout:\n%s\nstderr:\n%s", command, err, head(stdout.String()), stderr.String())
	}
}

// commandKey names what a command is: the subcommand ("search", "rules
// test"), or its first word when it is not defender-intake.
func commandKey(command string) string {
	f := strings.Fields(command)
	if len(f) < 2 || f[0] != "defender-intake" {
		return f[0]
	}
	if (f[1] == "rules" || f[1] == "config") && len(f) > 2 {
		return f[1] + " " + f[2]
	}
	return f[1]
}

var shownRE = regexp.MustCompile(`(\d+) of (\d+) matching events shown`)

// docCommandChecks states what each kind of documented command promises
// on the shipped sample (its exit status 0 is checked for all).
var docCommandChecks = map[string]func(e docEnv, stdout, stderr string) error{
	"normalize": func(e docEnv, stdout, _ string) error {
		n, err := countJSON(stdout)
		if err == nil && n != e.records {
			err = fmt.Errorf("%d documents, want one per sample record (%d)", n, e.records)
		}
		return err
	},
	"ingest": func(e docEnv, stdout, _ string) error {
		return wantIn(stdout, fmt.Sprintf("ingested %d documents", e.records))
	},
	"search": func(_ docEnv, stdout, stderr string) error {
		m := shownRE.FindStringSubmatch(stderr)
		if m == nil || m[1] == "0" || strings.Count(stdout, "\n") < 2 {
			return errors.New("no event printed")
		}
		return nil
	},
	"config check": func(_ docEnv, stdout, _ string) error { return wantIn(stdout, ": OK") },
	"rules check": func(_ docEnv, stdout, _ string) error {
		return wantIn(stdout, "loaded 1 rule(s), skipped 0")
	},
	"rules test": func(_ docEnv, stdout, _ string) error {
		return wantIn(stdout, `"rule_id":"`+docRuleID+`"`)
	},
	"estimate": func(_ docEnv, stdout, _ string) error {
		return wantIn(stdout, "AdvancedHunting-DeviceProcessEvents")
	},
	// The http source's answer to the sample pushed to it.
	"gzip": func(e docEnv, stdout, _ string) error {
		return wantIn(stdout, fmt.Sprintf("%d records delivered", e.records))
	},
	// Started, probed and stopped by probeService.
	"demo": nil, "serve": nil, "run": nil,
}

func wantIn(out, want string) error {
	if !strings.Contains(out, want) {
		return fmt.Errorf("output lacks %q", want)
	}
	return nil
}

func countJSON(s string) (int, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	n := 0
	for {
		var v json.RawMessage
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("document %d: %v", n+1, err)
		}
		n++
	}
}

func head(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "\n…"
	}
	return s
}

// probeService starts a long-running command, reads the address of the
// Events page it prints, checks that the page loads and that the API
// answers with every sample event, and stops it with SIGINT.
func (e docEnv) probeService(t *testing.T, ctx context.Context, cmd *exec.Cmd, command string) {
	t.Helper()
	stderr := cmd.Stderr.(*bytes.Buffer)
	cmd.Stdout = nil
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", command, err)
	}
	defer cmd.Process.Kill()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "Events page: http://"); ok {
				addr <- strings.TrimSuffix(rest, "/")
			}
		}
		close(addr)
	}()
	var a string
	select {
	case a = <-addr:
	case <-ctx.Done():
	}
	if a == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("%s printed no Events page address; stderr:\n%s", command, stderr.String())
	}
	if err := probeEventsPage(a, e.records); err != nil {
		t.Errorf("%s: %v", command, err)
	}
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Errorf("%s: after SIGINT: %v\nstderr:\n%s", command, err, stderr.String())
	}
}

// probeEventsPage checks the page and that the API answers with all the
// records in the store's time span.
func probeEventsPage(addr string, records int) error {
	get := func(path string) ([]byte, error) {
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		if err != nil {
			return nil, err
		}
		// The reader's environment holds the token for examples/config.yaml,
		// and serve and demo take it from there.
		if tok := os.Getenv(web.TokenEnv); tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
		}
		return body, err
	}
	page, err := get("/")
	if err != nil {
		return err
	}
	if !bytes.Contains(page, []byte("<title>Events")) {
		return fmt.Errorf("GET /: not the Events page: %.200s", page)
	}
	body, err := get("/api/stats")
	if err != nil {
		return err
	}
	var st struct {
		Stats struct {
			Events         int
			Oldest, Newest time.Time
		}
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("GET /api/stats: %v", err)
	}
	if st.Stats.Events != records {
		return fmt.Errorf("GET /api/stats: %d events, want %d", st.Stats.Events, records)
	}
	q := "/api/events?limit=500&from=" + st.Stats.Oldest.Format(time.RFC3339Nano) + "&to=" + st.Stats.Newest.Add(time.Second).Format(time.RFC3339Nano)
	if body, err = get(strings.ReplaceAll(q, "+", "%2B")); err != nil {
		return err
	}
	var evs struct{ Events []json.RawMessage }
	if err := json.Unmarshal(body, &evs); err != nil {
		return fmt.Errorf("GET %s: %v", q, err)
	}
	if len(evs.Events) != records {
		return fmt.Errorf("GET %s: %d events, want %d", q, len(evs.Events), records)
	}
	return nil
}

// serviceKey names a command that needs a running service.
func serviceKey(command string) string {
	if strings.Contains(command, "http://127.0.0.1:8514/ingest") {
		return "http source"
	}
	return ""
}

// docServices start the service a documented command talks to ("with
// the service running"), and return how to stop it and check it.
var docServices = map[string]func(t *testing.T, e docEnv, dir string) (stop func()){
	// docs/collection.md's http source example, the snippet just above the
	// command, with a free metrics port (9464 may be taken on the machine).
	"http source": func(t *testing.T, e docEnv, dir string) func() {
		var cfg string
		for _, y := range fencedBlocks(t, "yaml") {
			if strings.HasPrefix(y.where, "collection.md:") && strings.Contains(y.text, "listen: 127.0.0.1:8514") {
				cfg = y.text
			}
		}
		if cfg == "" {
			t.Fatal("docs/collection.md has no http source snippet on 127.0.0.1:8514")
		}
		p := filepath.Join(dir, "push.yaml")
		if err := os.WriteFile(p, []byte(cfg+"server:\n  listen: 127.0.0.1:0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("defender-intake", "run", "--config", p)
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Ready when the source accepts connections: bounded by attempts.
		ready := false
		for i := 0; i < 300 && !ready; i++ {
			c, err := net.DialTimeout("tcp", "127.0.0.1:8514", time.Second)
			if err == nil {
				c.Close()
				ready = true
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !ready {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("run with the http source did not listen on 127.0.0.1:8514; stderr:\n%s", stderr.String())
		}
		return func() {
			cmd.Process.Signal(os.Interrupt)
			if err := cmd.Wait(); err != nil {
				t.Errorf("run after SIGINT: %v\nstderr:\n%s", err, stderr.String())
			}
			b, err := os.ReadFile(filepath.Join(dir, "data", "ecs", "events.ndjson"))
			if n := bytes.Count(b, []byte("\n")); err != nil || n != e.records {
				t.Errorf("the file sink holds %d documents (%v), want %d", n, err, e.records)
			}
		}
	},
}
