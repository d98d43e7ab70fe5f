package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/store"
)

// ingest remembers what it loaded: a second run adds nothing and says so,
// a file that grew adds only what is new, a torn last line completed later
// is not lost, --force loads again.
func TestIngestTwiceAddsNothing(t *testing.T) {
	recs := deliverytest.Records(300, "twice")
	other := deliverytest.Records(300, "other") // each the length of its recs twin
	ndjson := func(rs [][]byte) string { return string(bytes.Join(rs, []byte("\n"))) + "\n" }
	type step struct {
		write   string // the file's whole content before the run ("" keeps it)
		args    []string
		code    int
		stdout  []string
		inStore int // distinct records in the store after the step
		total   int // documents in the store after the step
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"same file twice", []step{
			{write: ndjson(recs[:200]), code: 0, stdout: []string{"ingested 200 documents"}, inStore: 200, total: 200},
			{code: 0, stdout: []string{"already ingested", "200 documents stored", "0 documents added", "ingested 0 documents", "1 file(s) were already in the store"}, inStore: 200, total: 200},
		}},
		{"appended file loads what is new", []step{
			{write: ndjson(recs[:100]), code: 0, stdout: []string{"ingested 100 documents"}, inStore: 100, total: 100},
			{write: ndjson(recs[:250]), code: 0, stdout: []string{"loading what was appended (after 100 inputs)", "ingested 150 documents"}, inStore: 250, total: 250},
			{code: 0, stdout: []string{"0 documents added"}, inStore: 250, total: 250},
		}},
		{"torn last line completed later", []step{
			{write: ndjson(recs[:50]) + string(recs[50][:40]), code: 1, stdout: []string{"ingested 50 documents", "1 input(s) could not be normalized"}, inStore: 50, total: 50},
			{write: ndjson(recs[:60]), code: 0, stdout: []string{"loading what was appended", "ingested 10 documents"}, inStore: 60, total: 60},
		}},
		{"force loads again", []step{
			{write: ndjson(recs[:120]), code: 0, stdout: []string{"ingested 120 documents"}, inStore: 120, total: 120},
			{args: []string{"--force"}, code: 0, stdout: []string{"--force: loading it all again", "ingested 120 documents"}, inStore: 120, total: 240},
			{code: 0, stdout: []string{"0 documents added"}, inStore: 120, total: 240},
		}},
		{"same head, other content after it", []step{
			{write: ndjson(recs[:200]), code: 0, stdout: []string{"ingested 200 documents"}, inStore: 200, total: 200},
			{write: ndjson(append(recs[:150:150], other[150:300]...)), code: 1, inStore: 200, total: 200},
			{args: []string{"--force"}, code: 0, stdout: []string{"ingested 300 documents"}, inStore: 350, total: 500},
		}},
		{"rewritten in place, same size", []step{
			{write: ndjson(recs[:200]), code: 0, stdout: []string{"ingested 200 documents"}, inStore: 200, total: 200},
			{write: ndjson(append(recs[:199:199], other[199])), code: 1, inStore: 200, total: 200},
		}},
		{"interrupted, then the rest rewritten", []step{
			{write: ndjson(recs[:200]), args: []string{"stop-after-20"}, code: 1, inStore: 20, total: 20},
			{write: ndjson(append(recs[:150:150], other[150:250]...)), code: 1, inStore: 20, total: 20},
		}},
		{"--force loads a file named twice once", []step{
			{write: ndjson(recs[:200]), code: 0, stdout: []string{"ingested 200 documents"}, inStore: 200, total: 200},
			{args: []string{"--force", "--batch", "7", "same-run"}, code: 0, stdout: []string{"--force: loading it all again", "ingested 200 documents", "2 file(s) were already in the store"}, inStore: 200, total: 400},
		}},
		{"one file under three names in one run", []step{
			{write: ndjson(recs[:200]), args: []string{"--batch", "7", "same-run"}, code: 0, stdout: []string{"ingested 200 documents", "2 file(s) were already in the store"}, inStore: 200, total: 200},
		}},
		{"a copy is the same file", []step{
			{write: ndjson(recs[:80]), code: 0, stdout: []string{"ingested 80 documents"}, inStore: 80, total: 80},
			{args: []string{"copy"}, code: 0, stdout: []string{"already ingested", "0 documents added"}, inStore: 80, total: 80},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			data, in := filepath.Join(dir, "data"), filepath.Join(dir, "in.ndjson")
			for i, s := range tc.steps {
				if s.write != "" {
					if err := os.WriteFile(in, []byte(s.write), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				args := []string{"ingest", "--quiet", "--data", data}
				file := in
				var also []string
				for _, a := range s.args {
					if a == "same-run" {
						link := filepath.Join(dir, "link.ndjson")
						os.Symlink(in, link)
						also = append(also, dir+"/./in.ndjson", link)
						continue
					}
					if a == "stop-after-20" {
						ingestStopAfterInputs = 20
						continue
					}
					if a == "copy" {
						file = filepath.Join(dir, "copy.ndjson")
						b, _ := os.ReadFile(in)
						os.WriteFile(file, b, 0o644)
						continue
					}
					args = append(args, a)
				}
				var out, errb bytes.Buffer
				code := dispatch(append(append(args, file), also...), nil, &out, &errb)
				ingestStopAfterInputs = 0
				if code != s.code {
					t.Fatalf("step %d: exit %d, want %d\nstdout: %s\nstderr: %s", i, code, s.code, out.String(), errb.String())
				}
				for _, w := range s.stdout {
					if !strings.Contains(out.String(), w) {
						t.Errorf("step %d: stdout lacks %q:\n%s", i, w, out.String())
					}
				}
				distinct, total := storedRecords(t, data)
				if len(distinct) != s.inStore || total != s.total {
					t.Errorf("step %d: %d distinct records, %d documents in the store; want %d, %d", i, len(distinct), total, s.inStore, s.total)
				}
			}
		})
	}
}

// An interrupted ingest resumes where it stopped: whatever input it is
// stopped at, the store ends with every record exactly once.
func TestIngestInterruptedResumes(t *testing.T) {
	const n = 1000
	recs := deliverytest.Records(n, "resume")
	// Mixed shapes: bare records, envelopes of several records, and a
	// broken line, so that positions fall inside envelopes too.
	var in bytes.Buffer
	for i := 0; i < n; {
		switch {
		case i%97 == 5:
			in.WriteString("{broken\n")
			fallthrough
		case i%3 == 0 && i+4 <= n:
			in.WriteString(`{"records":[` + string(bytes.Join(recs[i:i+4], []byte(","))) + "]}\n")
			i += 4
		default:
			in.Write(recs[i])
			in.WriteByte('\n')
			i++
		}
	}
	for _, stops := range [][]int64{{1}, {37, 400}, {250, 250, 250}, {999}, {3, 5, 7, 11, 13}} {
		t.Run(fmt.Sprint(stops), func(t *testing.T) {
			dir := t.TempDir()
			data, file := filepath.Join(dir, "data"), filepath.Join(dir, "in.ndjson")
			if err := os.WriteFile(file, in.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			run := func(stopAfter int64) (int, string) {
				ingestStopAfterInputs = stopAfter
				defer func() { ingestStopAfterInputs = 0 }()
				var out, errb bytes.Buffer
				code := dispatch([]string{"ingest", "--quiet", "--batch", "64", "--data", data, file}, nil, &out, &errb)
				return code, out.String() + errb.String()
			}
			for _, s := range stops {
				if code, out := run(s); code != 1 || !strings.Contains(out, "interrupted") {
					t.Fatalf("stopped run: exit %d:\n%s", code, out)
				}
			}
			// exit 1 when this run met the broken line, 0 otherwise
			if code, out := run(0); code == 2 || !strings.Contains(out, "resuming an interrupted load") {
				t.Fatalf("last run: exit %d:\n%s", code, out)
			}
			distinct, total := storedRecords(t, data)
			if len(distinct) != n || total != n {
				t.Errorf("%d distinct records, %d documents; want %d of each", len(distinct), total, n)
			}
			dl, _ := os.ReadFile(filepath.Join(data, "dead-letter.ndjson"))
			if got, want := bytes.Count(dl, []byte("\n")), bytes.Count(in.Bytes(), []byte("{broken")); got != want {
				t.Errorf("%d dead letters, want %d", got, want)
			}
		})
	}
}

// storedRecords returns the records in the store of data by DeviceName
// (the record's unique id) and the number of documents.
func storedRecords(t *testing.T, data string) (map[string]int, int) {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{Dir: data}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	seen := map[string]int{}
	total := 0
	cursor := ""
	for {
		page, err := st.Search(context.Background(), store.Filter{From: time.Unix(0, 0), To: time.Now().Add(time.Hour)}, 1000, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			var doc struct {
				Host struct {
					Name string `json:"name"`
				} `json:"host"`
			}
			if err := json.Unmarshal(e.Doc, &doc); err != nil {
				t.Fatal(err)
			}
			seen[doc.Host.Name]++
			total++
		}
		if page.Next == "" {
			return seen, total
		}
		cursor = page.Next
	}
}

// ingest killed with SIGKILL, then run again: nothing is lost, and at most
// the batch being recorded when it died (--batch documents) is loaded
// twice.
func TestIngestKilledResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	const n, batch = 60_000, 2000
	bin := buildBinary(t)
	dir := t.TempDir()
	data, file := filepath.Join(dir, "data"), filepath.Join(dir, "in.ndjson")
	var in bytes.Buffer
	for _, r := range deliverytest.Records(n, "killed") {
		in.Write(r)
		in.WriteByte('\n')
	}
	if err := os.WriteFile(file, in.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "ingest", "--quiet", "--batch", fmt.Sprint(batch), "--data", data, file)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once the store records part of the file as loaded.
	var recorded int64
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline) && recorded < n/4; {
		b, err := os.ReadFile(filepath.Join(data, store.LoadedFilesName))
		var files []store.LoadedFile
		if err == nil && json.Unmarshal(b, &files) == nil && len(files) == 1 {
			recorded = files[0].Inputs
		}
		time.Sleep(5 * time.Millisecond) // polling a file another process writes
	}
	cmd.Process.Kill()
	cmd.Wait()
	if recorded < n/4 {
		t.Fatalf("the first run recorded %d inputs", recorded)
	}
	if recorded == n {
		t.Skip("the first run ended before it could be killed")
	}
	var out, errb bytes.Buffer
	if code := dispatch([]string{"ingest", "--quiet", "--data", data, file}, nil, &out, &errb); code != 0 {
		t.Fatalf("resume: exit %d\n%s%s", code, out.String(), errb.String())
	}
	distinct, total := storedRecords(t, data)
	if len(distinct) != n {
		t.Errorf("%d of %d records in the store after the kill and the resume", len(distinct), n)
	}
	if dup := total - len(distinct); dup > batch {
		t.Errorf("%d documents loaded twice, more than one batch (%d)", dup, batch)
	}
	t.Logf("killed after %d recorded inputs; resume: %s; %d documents, %d loaded twice", recorded, strings.TrimSpace(out.String()), total, total-len(distinct))
}

// The dead-letter file given as an input (to replay it, or by mistake) is
// refused: it would be written while read, and its entries, JSON objects,
// were loaded as documents.
func TestIngestRefusesItsDeadLetterFileAsInput(t *testing.T) {
	recs := deliverytest.Records(5, "dl")
	content := string(bytes.Join(recs, []byte("\n"))) + "\n{broken\n"
	tests := []struct {
		name string
		args func(dir, data, in string) []string
	}{
		{"same path", func(dir, data, in string) []string { return []string{"--dead-letter", in, in} }},
		{"another name of it", func(dir, data, in string) []string { return []string{"--dead-letter", in, dir + "/./in.ndjson"} }},
		{"a link to it", func(dir, data, in string) []string {
			link := filepath.Join(dir, "link.ndjson")
			os.Symlink(in, link)
			return []string{"--dead-letter", link, in}
		}},
		{"the default one", func(dir, data, in string) []string {
			os.MkdirAll(data, 0o755)
			dl := filepath.Join(data, "dead-letter.ndjson")
			os.WriteFile(dl, []byte(content), 0o644)
			return []string{dl}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			data, in := filepath.Join(dir, "data"), filepath.Join(dir, "in.ndjson")
			if err := os.WriteFile(in, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			args := append([]string{"ingest", "--quiet", "--data", data}, tc.args(dir, data, in)...)
			if code := dispatch(args, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "is the dead-letter file") {
				t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
			}
			if b, _ := os.ReadFile(in); string(b) != content {
				t.Errorf("the input was written to")
			}
		})
	}
}

// A directory among the inputs is refused before anything is loaded, as a
// missing file is (it failed half way, after the files before it).
func TestIngestRefusesADirectoryUpFront(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	if err := os.WriteFile(in, append(bytes.Join(deliverytest.Records(3, "dir"), []byte("\n")), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	var out, errb bytes.Buffer
	code := dispatch([]string{"ingest", "--quiet", "--data", data, in, dir}, nil, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "is a directory") {
		t.Fatalf("exit %d, want 2\nstderr: %s", code, errb.String())
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("the store was opened: %v", err)
	}
}
