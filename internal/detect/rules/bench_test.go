package rules

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/fieldmap"
	"github.com/defender-intake/defender-intake/internal/detect/sigma"
	"github.com/defender-intake/defender-intake/internal/normalize"
	"github.com/defender-intake/defender-intake/internal/testenv"
)

// benchEvent is a raw record with its normalized document.
type benchEvent struct{ raw, ecs []byte }

// mixedCorpus reads the Defender records of ../shared (the Sigma cases'
// records, the reference conformance inputs of every table) and
// normalizes them.
func mixedCorpus(tb testing.TB) []benchEvent {
	sigmaDir := testenv.SharedDir(tb, "sigma")
	confDir := testenv.SharedDir(tb, "conformance/sekoia")
	var raws [][]byte
	f, err := os.Open(filepath.Join(sigmaDir, "cases.jsonl"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var c struct {
			Record json.RawMessage `json:"record"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			tb.Fatal(err)
		}
		raws = append(raws, c.Record)
	}
	files, _ := filepath.Glob(filepath.Join(confDir, "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		var c struct {
			Input struct {
				Message string `json:"message"`
			} `json:"input"`
		}
		if json.Unmarshal(b, &c) == nil && c.Input.Message != "" {
			raws = append(raws, []byte(c.Input.Message))
		}
	}
	n := normalize.New(normalize.Options{})
	var out []benchEvent
	for _, r := range raws {
		doc, _, err := n.Append(nil, r)
		if err != nil {
			continue
		}
		out = append(out, benchEvent{raw: r, ecs: doc})
	}
	if len(out) < 80 {
		tb.Fatalf("only %d events in the mixed corpus", len(out))
	}
	return out
}

func corpusEngine(tb testing.TB) (*sigma.Engine, *fieldmap.Mapping) {
	srcs, err := ReadDirs(testenv.SharedDir(tb, "sigma/rules"))
	if err != nil {
		tb.Fatal(err)
	}
	m := fieldmap.Default()
	e, err := sigma.Compile(append(Builtin(), srcs...), sigma.Options{Mapper: m})
	if err != nil {
		tb.Fatal(err)
	}
	return e, m
}

// TestIndexedMatchesNaive: on the mixed corpus, the table index and the
// prefilters give exactly the rules a plain evaluation of every rule
// gives.
func TestIndexedMatchesNaive(t *testing.T) {
	events := mixedCorpus(t)
	e, m := corpusEngine(t)
	x := e.NewEvaluator()
	rec := m.NewRecord()
	total := 0
	for i, ev := range events {
		if err := rec.Reset(ev.raw, ev.ecs); err != nil {
			t.Fatal(err)
		}
		var a, b []string
		for _, r := range x.Match(rec, nil) {
			a = append(a, r.ID)
		}
		for _, r := range x.MatchNaive(rec, nil) {
			b = append(b, r.ID)
		}
		total += len(a)
		if len(a) != len(b) {
			t.Fatalf("event %d (%s): indexed %v, naive %v", i, rec.Table(), a, b)
		}
		for j := range a {
			if a[j] != b[j] {
				t.Fatalf("event %d: indexed %v, naive %v", i, a, b)
			}
		}
	}
	if total == 0 {
		t.Fatal("no event matched any rule: the comparison proves nothing")
	}
	t.Logf("%d events, %d matches", len(events), total)
}

// BenchmarkEngine evaluates the full SigmaHQ corpus plus the built-in
// rules on a mixed set of normalized Defender events. "indexed" is the
// engine (table index, Aho-Corasick prefilters); "naive" evaluates every
// rule of the event's table in full: the baseline for the speed-up ratio.
// Field extraction from the record (parsing) is included in both.
func BenchmarkEngine(b *testing.B) {
	events := mixedCorpus(b)
	e, m := corpusEngine(b)
	b.Logf("%d rules loaded, %d events in the corpus", len(e.Rules()), len(events))
	for _, mode := range []string{"indexed", "naive"} {
		b.Run(mode, func(b *testing.B) {
			x := e.NewEvaluator()
			rec := m.NewRecord()
			var dst []*sigma.Rule
			matches := 0
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ev := events[i%len(events)]
				if err := rec.Reset(ev.raw, ev.ecs); err != nil {
					b.Fatal(err)
				}
				if mode == "indexed" {
					dst = x.Match(rec, dst[:0])
				} else {
					dst = x.MatchNaive(rec, dst[:0])
				}
				matches += len(dst)
			}
			b.StopTimer()
			// Events per second of CPU time: on a shared machine the wall
			// clock also counts time spent waiting for a core.
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
			b.ReportMetric(float64(x.Evaluated())/float64(b.N), "rules-evaluated/event")
			b.ReportMetric(float64(matches)/float64(b.N), "matches/event")
			if mode == "indexed" {
				// The baseline measured right here, under the same load,
				// so the ratio holds even on a busy machine.
				perEvent := b.Elapsed().Seconds() / float64(b.N)
				naive := naivePerEvent(events, e.NewEvaluator(), m.NewRecord(), b.Elapsed())
				b.ReportMetric(naive/perEvent, "x-faster-than-naive")
			}
		})
	}
}

// naivePerEvent times MatchNaive over the corpus for about budget and
// returns the seconds per event.
func naivePerEvent(events []benchEvent, x *sigma.Evaluator, rec *fieldmap.Record, budget time.Duration) float64 {
	start := time.Now()
	n := 0
	for time.Since(start) < budget || n < len(events) {
		ev := events[n%len(events)]
		if err := rec.Reset(ev.raw, ev.ecs); err == nil {
			x.MatchNaive(rec, nil)
		}
		n++
	}
	return time.Since(start).Seconds() / float64(n)
}

// cpuTime is the CPU time (user + system) the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCompile loads and compiles the SigmaHQ corpus, reporting the
// heap the compiled engine keeps.
func BenchmarkCompile(b *testing.B) {
	srcs, err := ReadDirs(testenv.SharedDir(b, "sigma/rules"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var keep *sigma.Engine
	var before, after runtime.MemStats
	for i := 0; i < b.N; i++ {
		runtime.GC()
		runtime.ReadMemStats(&before)
		keep, err = sigma.Compile(srcs, sigma.Options{Mapper: fieldmap.Default()})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "engine-MiB")
	b.ReportMetric(float64(len(keep.Rules())), "rules")
}
