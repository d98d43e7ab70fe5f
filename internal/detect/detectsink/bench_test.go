package detectsink

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/detector"
	"github.com/defender-intake/defender-intake/internal/normalize"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/testenv"
)

// BenchmarkWrite measures the detection sink on batches of 500 normalized
// documents, and, as the baseline timed in the same run, the detector
// driven directly the way its doc shows (raw record at hand, no message
// extraction, its own alert file fsynced at every alert change):
// x-vs-direct > 1 means the sink is faster than that.
//
//   - sigmahq: the SigmaHQ rules of ../shared plus the built-ins on the
//     Defender records of the Sigma test cases (records made to match
//     a rule: about one match per record);
//   - tables: the same rules on the reference conformance inputs (one or
//     a few records of every table, most matching nothing; tables no rule
//     reads are skipped);
//   - noisy: one rule matching every record, spread over 5 hosts (a
//     noisy rule: every document updates an alert).
func BenchmarkWrite(b *testing.B) {
	b.Run("sigmahq", func(b *testing.B) {
		cfg := *DefaultConfig()
		cfg.Rules.Dirs = []string{testenv.SharedDir(b, "sigma/rules")}
		benchWrite(b, cfg, normalized(b, sigmaCaseRecords(b)))
	})
	b.Run("tables", func(b *testing.B) {
		cfg := *DefaultConfig()
		cfg.Rules.Dirs = []string{testenv.SharedDir(b, "sigma/rules")}
		benchWrite(b, cfg, normalized(b, conformanceRecords(b)))
	})
	b.Run("noisy", func(b *testing.B) {
		dir := b.TempDir()
		writeRule(b, filepath.Join(dir, "rules"), "whoami.yml", whoamiRule)
		cfg := *DefaultConfig()
		cfg.Rules.Dirs, cfg.Rules.NoBuiltin = []string{filepath.Join(dir, "rules")}, true
		var recs []string
		for i := range 500 {
			recs = append(recs, procRecord(fmt.Sprintf("ws%d", i%5), "whoami", t0.Add(time.Duration(i)*time.Second)))
		}
		benchWrite(b, cfg, normalized(b, recs))
	})
}

func benchWrite(b *testing.B, cfg Config, corpus []sink.Doc) {
	dir := b.TempDir()
	cfg.Store = filepath.Join(dir, "store") // alerts in the store, no alert file: the defaults
	log := slog.New(slog.DiscardHandler)
	s, err := Open("bench", cfg, sink.Env{Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	batch := make([]sink.Doc, 0, 500)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		batch = append(batch, corpus[i%len(corpus)])
		if len(batch) == cap(batch) || i == b.N-1 {
			if err := s.Write(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.StopTimer()
	perEvent := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(1/perEvent, "events/s")
	// Events per second of CPU time: on a shared machine the wall clock
	// also counts time spent waiting for a core.
	cpuPerEvent := (cpuTime() - cpu0).Seconds() / float64(b.N)
	b.ReportMetric(1/cpuPerEvent, "events/cpu-s")

	// Baseline: the detector with its own per-change fsynced file.
	dcfg := cfg.Config
	dcfg.File = filepath.Join(dir, "direct", "alerts.ndjson")
	os.MkdirAll(filepath.Dir(dcfg.File), 0o750)
	det, err := detector.New(dcfg, log)
	if err != nil {
		b.Fatal(err)
	}
	defer det.Close(ctx)
	w := det.NewWorker()
	raws := make([][]byte, len(corpus))
	for i, d := range corpus {
		var doc struct{ Message string }
		json.Unmarshal(d.JSON, &doc)
		raws[i] = []byte(doc.Message)
	}
	n := min(b.N, 20000)
	wall, _ := direct(b, w, corpus, raws, n)
	b.ReportMetric(wall/perEvent, "x-vs-direct") // fsync waits: wall clock

	// And with no alert file at all: pure detection, what the sink adds
	// (message extraction, hashing, writing alerts) shows as x < 1.
	dcfg.File = ""
	bare, err := detector.New(dcfg, log)
	if err != nil {
		b.Fatal(err)
	}
	defer bare.Close(ctx)
	_, cpu := direct(b, bare.NewWorker(), corpus, raws, n)
	b.ReportMetric(cpu/cpuPerEvent, "x-vs-no-alert-file") // CPU time
}

// direct runs n events through w and returns the wall and CPU seconds
// per event.
func direct(b *testing.B, w *detector.Worker, corpus []sink.Doc, raws [][]byte, n int) (wall, cpu float64) {
	var matches int
	start, cpu0 := time.Now(), cpuTime()
	for i := range n {
		d := corpus[i%len(corpus)]
		raw := raws[i%len(corpus)]
		m, err := w.Process(context.Background(), raw, d.JSON, EventID(raw), d.Timestamp)
		if err != nil {
			b.Fatal(err)
		}
		matches += len(m)
	}
	wall = time.Since(start).Seconds() / float64(n)
	cpu = (cpuTime() - cpu0).Seconds() / float64(n)
	b.ReportMetric(float64(matches)/float64(n), "matches/event")
	return wall, cpu
}

func normalized(b *testing.B, records []string) []sink.Doc {
	n := normalize.New(normalize.Options{})
	var out []sink.Doc
	for _, r := range records {
		doc, meta, err := n.Append(nil, []byte(r))
		if err != nil {
			continue
		}
		out = append(out, sink.Doc{JSON: doc, Dataset: meta.Dataset, Timestamp: meta.Timestamp, Raw: []byte(r)})
	}
	return out
}

// sigmaCaseRecords reads the Defender records of the Sigma test cases.
func sigmaCaseRecords(b *testing.B) []string {
	f, err := os.Open(filepath.Join(testenv.SharedDir(b, "sigma"), "cases.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var c struct {
			Record json.RawMessage `json:"record"`
		}
		if json.Unmarshal(sc.Bytes(), &c) == nil && len(c.Record) > 0 {
			out = append(out, string(c.Record))
		}
	}
	if len(out) < 20 {
		b.Fatalf("only %d records in the Sigma cases", len(out))
	}
	return out
}

// conformanceRecords reads the raw records of the reference conformance
// inputs in ../shared (every Defender table).
func conformanceRecords(b *testing.B) []string {
	files, _ := filepath.Glob(filepath.Join(testenv.SharedDir(b, "conformance/sekoia"), "*.json"))
	var out []string
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		var c struct {
			Input struct {
				Message string `json:"message"`
			} `json:"input"`
		}
		if json.Unmarshal(data, &c) == nil && c.Input.Message != "" {
			out = append(out, c.Input.Message)
		}
	}
	if len(out) < 20 {
		b.Fatalf("only %d conformance records", len(out))
	}
	return out
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
