package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// baselineEnv makes the test binary run the baseline program instead of
// the tests (see TestMain): the yardstick of BenchmarkNormalizeProcess.
const baselineEnv = "DEFENDER_INTAKE_BASELINE"

func TestMain(m *testing.M) {
	if os.Getenv(baselineEnv) == "1" {
		os.Exit(baselineRoundTrip(os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// baselineRoundTrip is the whole-process baseline: for each line of in,
// it decodes the record into a map[string]any with encoding/json and
// encodes it again to out, one per line, as BenchmarkSpeedup's baseline
// does in-process: the least a program that reads Defender records and
// writes JSON does (it maps nothing). It ends with the same statistics
// line as `normalize --stats`.
func baselineRoundTrip(in io.Reader, out, stderr io.Writer) int {
	w := bufio.NewWriterSize(out, 1<<20)
	lines := bufio.NewScanner(in)
	lines.Buffer(make([]byte, 1<<20), 64<<20)
	records := 0
	for lines.Scan() {
		var m map[string]any
		if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
			fmt.Fprintf(stderr, "baseline: line %d: %v\n", records+1, err)
			return 1
		}
		doc, err := json.Marshal(m)
		if err != nil {
			fmt.Fprintf(stderr, "baseline: %v\n", err)
			return 1
		}
		w.Write(doc)
		w.WriteByte('\n')
		records++
	}
	if err := lines.Err(); err != nil {
		fmt.Fprintf(stderr, "baseline: %v\n", err)
		return 1
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "baseline: %v\n", err)
		return 1
	}
	printRunStats(stderr, "baseline", records)
	return 0
}

// processRun is what one run of a program over a corpus cost.
type processRun struct {
	wall, cpu time.Duration
	records   int
	mallocs   uint64 // heap allocations, from the stats line
	allocated uint64 // bytes allocated
	gcs       uint64
	maxRSS    int64 // bytes
	// batches normalized by the workers and by the reading goroutine
	// (normalize with more than one CPU)
	parallelBatches, sequentialBatches uint64
}

// runProcess runs argv with the corpus file on stdin and stdout to
// /dev/null. oneCore pins it to CPU 0 with GOMAXPROCS=1; otherwise it
// runs with the default GOMAXPROCS on every CPU.
func runProcess(tb testing.TB, argv []string, extraEnv []string, corpus string, oneCore bool) processRun {
	tb.Helper()
	in, err := os.Open(corpus)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer null.Close()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOMAXPROCS=") && !strings.HasPrefix(kv, baselineEnv+"=") {
			env = append(env, kv)
		}
	}
	env = append(env, extraEnv...)
	if oneCore {
		argv = append([]string{"taskset", "-c", "0"}, argv...)
		env = append(env, "GOMAXPROCS=1")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, in, null, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		tb.Fatalf("%v: %v\n%s", argv, err, stderr.Bytes())
	}
	run := processRun{wall: time.Since(start),
		cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	if !parseRunStats(stderr.String(), &run) {
		tb.Fatalf("%v: no statistics line in its stderr:\n%s", argv, stderr.Bytes())
	}
	return run
}

func parseRunStats(stderr string, run *processRun) bool {
	i := strings.Index(stderr, ": stats: ")
	if i < 0 {
		return false
	}
	line, _, _ := strings.Cut(stderr[i+len(": stats: "):], "\n")
	for _, field := range strings.Fields(line) {
		k, v, _ := strings.Cut(field, "=")
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return false
		}
		switch k {
		case "records":
			run.records = int(n)
		case "mallocs":
			run.mallocs = n
		case "alloc-bytes":
			run.allocated = n
		case "gcs":
			run.gcs = n
		case "max-rss-bytes":
			run.maxRSS = int64(n)
		case "parallel-batches":
			run.parallelBatches = n
		case "sequential-batches":
			run.sequentialBatches = n
		}
	}
	return true
}

// BenchmarkNormalizeProcess compares `defender-intake normalize` with the
// baseline program (baselineRoundTrip) as whole processes, standard input
// from a corpus file to standard output on /dev/null, alternating the two
// in the same run so that both see the same machine load. Each op runs
// each program twice (see below) over 30,000 records. Corpora:
//
//   - DeviceProcessEvents: records of 4.1 KB, the most common table.
//   - reference: the reference intake's conformance inputs (mixed tables,
//     2.7 KB on average) from ../shared, skipped when absent
//     (NORMALIZE_BENCH_REFERENCE names another directory of such cases).
//   - shipped: the golden inputs and the sample's records (mixed tables),
//     which every clone has.
//
// Each op runs each program on one core (taskset -c 0, GOMAXPROCS=1) and
// with the default GOMAXPROCS on every CPU, the four runs in an order that
// rotates from op to op. x-baseline-* is the baseline's wall time over
// normalize's (the speedup), x-baseline-cpu-* the same in CPU time, and
// x-default-vs-1cpu normalize's wall time on one core over its time with
// the default GOMAXPROCS (at least 1: more CPUs never make it slower).
func BenchmarkNormalizeProcess(b *testing.B) {
	if _, err := exec.LookPath("taskset"); err != nil {
		b.Skip("taskset (util-linux) is needed to pin the processes to one core")
	}
	bin := buildBinary(b)
	baseline := []string{os.Args[0], "-test.run=^$"}
	dir := b.TempDir()
	corpora := []struct {
		name string
		recs func(testing.TB) [][]byte
	}{
		{"DeviceProcessEvents", deviceProcessCorpus},
		{"reference", referenceCorpus},
		{"shipped", shippedCorpus},
	}
	for _, c := range corpora {
		b.Run(c.name, func(b *testing.B) {
			path := filepath.Join(dir, c.name+".ndjson")
			records := writeCorpus(b, path, c.recs(b), processCorpusRecords)
			// The four runs of an op, in an order that rotates from op to op.
			type runKind struct {
				normalize, oneCore bool
				sum                processRun
			}
			kinds := []*runKind{{normalize: true, oneCore: true}, {oneCore: true},
				{normalize: true}, {}}
			for i := 0; b.Loop(); i++ {
				for k := range kinds {
					kind := kinds[(i+k)%len(kinds)]
					var r processRun
					if kind.normalize {
						r = runProcess(b, []string{bin, "normalize", "--stats"}, nil, path, kind.oneCore)
					} else {
						r = runProcess(b, baseline, []string{baselineEnv + "=1"}, path, kind.oneCore)
					}
					if r.records != records {
						b.Fatalf("%d records out of %d", r.records, records)
					}
					sum := &kind.sum
					sum.wall += r.wall
					sum.cpu += r.cpu
					sum.mallocs += r.mallocs
					sum.allocated += r.allocated
					sum.gcs += r.gcs
					sum.maxRSS = max(sum.maxRSS, r.maxRSS)
					sum.parallelBatches += r.parallelBatches
					sum.sequentialBatches += r.sequentialBatches
				}
			}
			total := float64(b.N * records)
			norm1, base1, normN, baseN := kinds[0].sum, kinds[1].sum, kinds[2].sum, kinds[3].sum
			for _, m := range []struct {
				norm, base processRun
				suffix     string
			}{{norm1, base1, "-1cpu"}, {normN, baseN, "-default"}} {
				b.ReportMetric(total/m.norm.wall.Seconds(), "records/s"+m.suffix)
				b.ReportMetric(total/m.base.wall.Seconds(), "baseline-records/s"+m.suffix)
				b.ReportMetric(float64(m.base.wall)/float64(m.norm.wall), "x-baseline"+m.suffix)
				b.ReportMetric(float64(m.base.cpu)/float64(m.norm.cpu), "x-baseline-cpu"+m.suffix)
				b.ReportMetric(float64(m.norm.mallocs)/total, "allocs/record"+m.suffix)
				b.ReportMetric(float64(m.norm.maxRSS)/(1<<20), "max-RSS-MB"+m.suffix)
			}
			// Above 1: the default GOMAXPROCS is faster than one core.
			b.ReportMetric(float64(norm1.wall)/float64(normN.wall), "x-default-vs-1cpu")
			b.ReportMetric(float64(norm1.allocated)/total, "B-alloc/record-1cpu")
			b.ReportMetric(float64(base1.mallocs)/total, "baseline-allocs/record")
			b.ReportMetric(float64(max(base1.maxRSS, baseN.maxRSS))/(1<<20), "baseline-max-RSS-MB")
			if batches := normN.parallelBatches + normN.sequentialBatches; batches > 0 {
				b.ReportMetric(float64(normN.parallelBatches)/float64(batches), "parallel-share-default")
			}
		})
	}
}

// processCorpusRecords is the size of each corpus, in records.
const processCorpusRecords = 30_000

// writeCorpus writes n records to path, one per line, cycling through
// recs, and returns n.
func writeCorpus(tb testing.TB, path string, recs [][]byte, n int) int {
	tb.Helper()
	var buf bytes.Buffer
	for i := range n {
		buf.Write(recs[i%len(recs)])
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return n
}
