package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
	"time"
)

// With several CPUs, normalize reads, normalizes and writes in parallel;
// what it prints, reports and dead-letters must not change: the same
// documents in input order, the same rejects in the same order, the same
// exit status, over inputs of several batches with damage near and across
// batch ends.
func TestNormalizeParallelSameAsSequential(t *testing.T) {
	recs := deviceProcessCorpus(t)
	golden := shippedCorpus(t)
	var in bytes.Buffer
	for i := range 5000 {
		switch {
		case i%997 == 0:
			in.WriteString("not json at all\n")
		case i%1023 == 5:
			in.WriteString("[1, \"two\", {\"category\":\"AdvancedHunting-DeviceEvents\",\"properties\":{}}]\n")
		case i%311 == 0:
			fmt.Fprintf(&in, "{\"records\":[%s,%s]}\n", golden[i%len(golden)], recs[i%len(recs)])
		case i%2 == 0:
			in.Write(golden[i%len(golden)])
			in.WriteByte('\n')
		default:
			in.Write(recs[i%len(recs)])
			in.WriteByte('\n')
		}
	}
	in.WriteString("{\"time\":\"2026-11-20T09:00:00Z\",\"category\":\"AdvancedHunting-DeviceEvents\",\"properties\":{\"DeviceName\": \"x\"\n")
	dir := t.TempDir()
	inputPath := filepath.Join(dir, "in.ndjson")
	if err := os.WriteFile(inputPath, in.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// Records with no usable time get the time of normalization, and dead
	// letters the time they were written: both are masked.
	now := regexp.MustCompile(`"(@timestamp|ingested|time)": ?"[^"]*"`)
	// stdin: the input as a stream of unknown length, which is read on
	// one goroutine for its first parallelMinInput bytes.
	run := func(procs int, stdin bool, args ...string) (code int, stdout, stderr, dead []byte) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		deadPath := filepath.Join(dir, fmt.Sprintf("dead-%d-%d-%v.ndjson", procs, len(args), stdin))
		var out, errOut bytes.Buffer
		args = append(args, "--dead-letter", deadPath)
		if stdin {
			code = normalizeCmd(args, bytes.NewReader(in.Bytes()), &out, &errOut)
		} else {
			code = normalizeCmd(append(args, inputPath), nil, &out, &errOut)
		}
		dead, err := os.ReadFile(deadPath)
		if err != nil {
			t.Fatal(err)
		}
		return code, now.ReplaceAll(out.Bytes(), nil), errOut.Bytes(), now.ReplaceAll(dead, nil)
	}
	// Windows of two batches, so that both modes and the changes between
	// them are exercised.
	// The input is long enough to be tried in parallel, from the start as
	// a file and from its middle as a stream.
	defer func(w, warm int, min int64) {
		windowBatches, warmBatches, parallelMinInput = w, warm, min
	}(windowBatches, warmBatches, parallelMinInput)
	windowBatches, warmBatches, parallelMinInput = 2, 1, int64(in.Len()/2)
	for _, tc := range []struct {
		args  []string
		stdin bool
	}{{nil, false}, {[]string{"--pretty"}, false}, {nil, true}} {
		args := tc.args
		code1, out1, err1, dead1 := run(1, tc.stdin, args...)
		code4, out4, err4, dead4 := run(4, tc.stdin, args...)
		if code1 != 1 || code4 != code1 {
			t.Errorf("%v: exit status %d with one CPU, %d with four (want 1)", args, code1, code4)
		}
		if !bytes.Equal(out1, out4) {
			t.Errorf("%v: documents differ (%d bytes with one CPU, %d with four)", args, len(out1), len(out4))
		}
		if !bytes.Equal(err1, err4) {
			t.Errorf("%v: reports differ:\n%s\n---\n%s", args, err1, err4)
		}
		if !bytes.Equal(dead1, dead4) {
			t.Errorf("%v: dead letters differ:\n%s\n---\n%s", args, dead1, dead4)
		}
		if n := bytes.Count(out1, []byte(`"dataset"`)); len(args) == 0 && n < 4900 {
			t.Errorf("only %d documents", n)
		}
	}
}

// The chooser keeps the mode measured faster and tries the other one
// window in probeEvery.
func TestModeChooser(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		sequential, parallel  time.Duration // per batch of 100 records
		wantParallelOfWindows int
	}{
		{"parallel pays", 10 * time.Millisecond, 6 * time.Millisecond, 36},
		{"parallel does not pay", 10 * time.Millisecond, 14 * time.Millisecond, 4},
	} {
		c := newModeChooser()
		now := time.Unix(0, 0)
		parallelWindows := 0
		for range 40 {
			if c.parallel {
				parallelWindows++
			}
			for range windowBatches {
				if c.parallel {
					now = now.Add(tc.parallel)
				} else {
					now = now.Add(tc.sequential)
				}
				c.batchDone(100, now)
			}
		}
		if parallelWindows != tc.wantParallelOfWindows {
			t.Errorf("%s: %d windows of 40 in parallel, want %d", tc.name, parallelWindows, tc.wantParallelOfWindows)
		}
	}
}

// A run too short for the parallel way to pay back its cost never tries
// it: it normalizes on one goroutine as with one CPU (no batches handed
// on, by --stats). A long file tries it from the start, a long stream
// once it has read parallelMinInput bytes.
func TestNormalizeShortRunStaysSequential(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	defer func(min int64) { parallelMinInput = min }(parallelMinInput)
	recs := shippedCorpus(t)
	var in bytes.Buffer
	for i := range 3000 {
		in.Write(recs[i%len(recs)])
		in.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "in.ndjson")
	if err := os.WriteFile(path, in.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	batches := regexp.MustCompile(`parallel-batches=(\d+) sequential-batches=(\d+)`)
	for _, tc := range []struct {
		name       string
		minInput   int64
		stdin      bool
		wantPooled bool // batches went through the parallel pipeline
	}{
		{"short file", int64(in.Len()) + 1, false, false},
		{"short stream", int64(in.Len()) + 1, true, false},
		{"long file", int64(in.Len()), false, true},
		{"long stream", int64(in.Len() / 2), true, true},
	} {
		parallelMinInput = tc.minInput
		var out, errOut bytes.Buffer
		var code int
		if tc.stdin {
			code = normalizeCmd([]string{"--stats"}, bytes.NewReader(in.Bytes()), &out, &errOut)
		} else {
			code = normalizeCmd([]string{"--stats", path}, nil, &out, &errOut)
		}
		if code != 0 {
			t.Fatalf("%s: exit status %d: %s", tc.name, code, errOut.Bytes())
		}
		if n := bytes.Count(out.Bytes(), []byte("\n")); n != 3000 {
			t.Errorf("%s: %d documents, want 3000", tc.name, n)
		}
		m := batches.FindStringSubmatch(errOut.String())
		if m == nil {
			t.Fatalf("%s: no batch counts in %s", tc.name, errOut.Bytes())
		}
		if pooled := m[1] != "0" || m[2] != "0"; pooled != tc.wantPooled {
			t.Errorf("%s: parallel-batches=%s sequential-batches=%s, want pipeline used: %v", tc.name, m[1], m[2], tc.wantPooled)
		}
	}
}
