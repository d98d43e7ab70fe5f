package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"

	"github.com/defender-intake/defender-intake/internal/envelope"
	"github.com/defender-intake/defender-intake/internal/normalize"
)

func init() {
	register("normalize", command{
		summary: "print one ECS document per Defender record of FILEs (or stdin)",
		run:     normalizeCmd,
	})
}

func normalizeCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("normalize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pretty := fs.Bool("pretty", false, "indent the documents for people (one document per block instead of per line)")
	deadLetter := fs.String("dead-letter", "", "append what cannot be normalized to this NDJSON `file`, with its raw bytes and the reason")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to `file` (for performance work)")
	stats := fs.Bool("stats", false, "print the records, heap allocations and garbage collections of the run on stderr at the end")
	setUsage(fs, func(w io.Writer) {
		fmt.Fprintln(w, "usage: defender-intake normalize [--pretty] [--dead-letter FILE] [FILE...]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Reads Defender XDR streaming records (Event Hub envelopes {\"records\":[...]}, bare records,")
		fmt.Fprintln(w, "JSON arrays; one per line or pretty-printed) from FILEs or stdin and prints one ECS document")
		fmt.Fprintln(w, "per record, in input order. Exits 1 when anything could not be normalized.")
	})
	if status, done := parseFlags(fs, args, stdout); done {
		return status
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "normalize: %v\n", err)
			return 2
		}
		defer stop()
	}
	if err := checkInputFiles(fs.Args()); err != nil {
		fmt.Fprintf(stderr, "normalize: %v\n", err)
		return 2
	}
	relaxGC()
	out := bufio.NewWriterSize(stdout, 1<<20)
	defer out.Flush()
	job := &normalizeJob{n: normalize.New(normalize.Options{}), out: out,
		rejects: &rejects{stderr: stderr, path: *deadLetter}, pretty: *pretty}
	defer job.rejects.close()
	for _, name := range inputNames(fs.Args()) {
		if err := job.file(name, stdin); err != nil {
			fmt.Fprintf(stderr, "normalize: %v\n", err)
			return 2
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(stderr, "normalize: write: %v\n", err)
		return 2
	}
	if err := job.rejects.close(); err != nil {
		fmt.Fprintf(stderr, "normalize: %v\n", err)
		return 2
	}
	if *stats {
		printRunStats(stderr, "normalize", job.done,
			fmt.Sprintf("parallel-batches=%d sequential-batches=%d", job.parallelBatches, job.sequentialBatches))
	}
	if n := job.rejects.count; n > 0 {
		fmt.Fprintf(stderr, "normalize: %d record(s) normalized, %d input(s) could not be normalized\n", job.done, n)
		return 1
	}
	return 0
}

type normalizeJob struct {
	n       *normalize.Normalizer
	out     *bufio.Writer
	rejects *rejects
	pretty  bool
	buf     []byte
	done    int
	// parallelBatches and sequentialBatches count the batches by who
	// normalized them (see fileParallel), for --stats.
	parallelBatches, sequentialBatches int
}

func (j *normalizeJob) file(name string, stdin io.Reader) error {
	in, display, closeInput, err := openInput(name, stdin)
	if err != nil {
		return err
	}
	defer closeInput()
	rd := envelope.NewReader(in)
	workers := runtime.GOMAXPROCS(0)
	ended, err := j.fileSequential(rd, display, sequentialBytes(in, workers))
	if ended || err != nil {
		return err
	}
	return j.fileParallel(rd, display, workers)
}

// fileSequential normalizes the records of rd on the calling goroutine
// until the end of the input (ended) or until it has read at least limit
// bytes of records (limit < 0: no limit).
func (j *normalizeJob) fileSequential(rd *envelope.Reader, display string, limit int64) (ended bool, err error) {
	var read int64
	for limit < 0 || read < limit {
		rec, err := rd.Next()
		if err == io.EOF {
			return true, nil
		}
		if err != nil { // (checked first: errors.As would cost an allocation per record)
			var bad *envelope.Error
			if !errors.As(err, &bad) {
				return true, fmt.Errorf("%s: %w", display, err)
			}
			read += int64(len(bad.Raw))
			if err := j.rejects.add(context.Background(), display, bad.Line, "envelope", bad.Reason, bad.Raw); err != nil {
				return true, err
			}
			continue
		}
		read += int64(len(rec.Bytes))
		doc, _, err := j.n.Append(j.buf[:0], rec.Bytes)
		if err != nil {
			if err := j.rejects.add(context.Background(), display, rec.Line, "normalize", err.Error(), rec.Bytes); err != nil {
				return true, err
			}
			continue
		}
		j.buf = doc
		if j.pretty {
			var ind bytes.Buffer
			if json.Indent(&ind, doc, "", "  ") == nil {
				doc = ind.Bytes()
			}
		}
		j.out.Write(doc)
		j.out.WriteByte('\n')
		j.done++
	}
	return false, nil
}

// normalizeGCPercent is the garbage collector's target for normalize:
// the heap may grow to 5 times what is live between collections, instead
// of 2. What is live is small and bounded (the normalizer's buffers, the
// user agent and public suffix tables, one record), so the peak memory
// grows by a few tens of MB, while a stream of records that are garbage
// right after they are written is collected half as often.
const normalizeGCPercent = 400

// relaxGC applies normalizeGCPercent unless GOGC is set (a user's setting
// wins).
func relaxGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(normalizeGCPercent)
	}
}

// startCPUProfile starts writing a CPU profile to path; stop ends it.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// printRunStats writes one line of statistics about the run so far:
// records done, heap allocations (count and bytes), garbage collections
// and the peak resident memory (Linux only, else 0).
// BenchmarkNormalizeProcess reads it.
func printRunStats(w io.Writer, name string, records int, more ...string) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(w, "%s: stats: records=%d mallocs=%d alloc-bytes=%d gcs=%d max-rss-bytes=%d",
		name, records, ms.Mallocs, ms.TotalAlloc, ms.NumGC, peakRSS())
	for _, m := range more {
		fmt.Fprintf(w, " %s", m)
	}
	fmt.Fprintln(w)
}

// peakRSS is the process's peak resident set size in bytes, from
// /proc/self/status (VmHWM); 0 where that is not available. (The rusage
// of a child is no use for this: it keeps the parent's peak from before
// the exec.)
func peakRSS() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	_, rest, ok := bytes.Cut(status, []byte("VmHWM:"))
	if !ok {
		return 0
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	kb, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(line), []byte("kB")))), 10, 64)
	if err != nil {
		return 0
	}
	return kb << 10
}
