package store

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/defender-intake/defender-intake/internal/envelope"
	"github.com/defender-intake/defender-intake/internal/normalize"
	"github.com/defender-intake/defender-intake/internal/store/storetest"
)

// BenchmarkIngest measures store.Write in batches of 1,000 ECS documents.
// The baseline sub-benchmark writes the same bytes as NDJSON to a file with
// fsync per batch after parsing each document once (the least any durable
// store must do), so the ratio shows what DuckDB costs on top. The store's
// docs/s runs until every document is searchable and checkpointed (ns/op
// only covers the Writes, which return before DuckDB has the documents);
// cpu-µs/doc is the CPU time of the whole process, DuckDB's threads
// included, per document.
func BenchmarkIngest(b *testing.B) {
	batchSize := 1000
	if v, _ := strconv.Atoi(os.Getenv("STORE_BATCH")); v > 0 {
		batchSize = v
	}
	g := storetest.New(7, t0, span)
	docs := make([]Doc, 20*batchSize)
	var size int64
	for i := range docs {
		j, _ := g.Next()
		docs[i] = Doc{JSON: j}
		size += int64(len(j))
	}
	b.Run("baseline-ndjson-fsync", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "x.ndjson"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		var p fastjson.Parser
		var buf []byte
		b.SetBytes(size / int64(len(docs)) * int64(batchSize))
		b.ReportAllocs()
		cpu := startCPU()
		for i := 0; b.Loop(); i++ {
			buf = buf[:0]
			for _, d := range docs[(i%20)*batchSize : (i%20+1)*batchSize] {
				if _, err := p.ParseBytes(d.JSON); err != nil {
					b.Fatal(err)
				}
				buf = append(append(buf, d.JSON...), '\n')
			}
			f.Write(buf)
			f.Sync()
		}
		cpu.report(b, b.N*batchSize)
		b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "docs/s")
	})
	b.Run("store-real-normalized-docs", func(b *testing.B) {
		real := realDocs(b, batchSize)
		s, err := Open(context.Background(), Config{Dir: b.TempDir()}, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		var n int64
		for _, d := range real {
			n += int64(len(d.JSON))
		}
		b.SetBytes(n)
		b.ReportAllocs()
		cpu := startCPU()
		start := time.Now()
		for b.Loop() {
			if err := s.Write(context.Background(), real); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		checkpoint(b, s)
		cpu.report(b, b.N*batchSize)
		b.ReportMetric(float64(b.N*batchSize)/time.Since(start).Seconds(), "docs/s")
		b.ReportMetric(float64(n)/float64(batchSize), "doc-bytes")
	})
	b.Run("store", func(b *testing.B) {
		s, err := Open(context.Background(), Config{Dir: b.TempDir()}, nil)
		if v := os.Getenv("STORE_EXP"); v != "" { // experiments: STORE_EXP="SET threads=1"
			s.db.Exec(v)
		}
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		b.SetBytes(size / int64(len(docs)) * int64(batchSize))
		b.ReportAllocs()
		cpu := startCPU()
		start := time.Now()
		for i := 0; b.Loop(); i++ {
			if err := s.Write(context.Background(), docs[(i%20)*batchSize:(i%20+1)*batchSize]); err != nil {
				b.Fatal(err)
			}
		}
		// Count the time to make everything searchable too.
		if err := s.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		checkpoint(b, s)
		cpu.report(b, b.N*batchSize)
		// ns/op stops with the loop; docs/s counts until every document
		// is searchable and checkpointed.
		b.ReportMetric(float64(b.N*batchSize)/time.Since(start).Seconds(), "docs/s")
		st, _ := s.Stats(context.Background())
		if st.Events > 0 {
			b.ReportMetric(float64(s.diskBytes())/float64(st.Events), "disk-bytes/event")
		}
	})
}

// cpuClock measures the CPU time of the whole process (DuckDB's threads
// included): on a shared machine it varies far less than the wall clock.
type cpuClock struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{processCPU()} }

// report adds the CPU microseconds per document and the process's peak
// resident memory.
func (c cpuClock) report(b *testing.B, docs int) {
	b.ReportMetric(float64((processCPU()-c.start).Microseconds())/float64(docs), "cpu-µs/doc")
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	b.ReportMetric(float64(ru.Maxrss)/1024, "max-rss-MB")
}

// checkpoint writes what DuckDB holds in its write-ahead log into the
// database file, which it otherwise does every few megabytes of log: the
// last one counts in the cost of the run (and the benchmark does not favour
// settings that postpone it past the end).
func checkpoint(b *testing.B, s *Store) {
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	if _, err := s.conn.ExecContext(context.Background(), "CHECKPOINT"); err != nil {
		b.Fatal(err)
	}
}

// realDocs normalizes the project's sample records (every Defender table)
// and repeats them to n documents.
func realDocs(b testing.TB, n int) []Doc {
	_, file, _, _ := runtime.Caller(0)
	f, err := os.Open(filepath.Join(filepath.Dir(file), "..", "..", "examples", "defender-sample.ndjson"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	norm := normalize.New(normalize.Options{})
	rd := envelope.NewReader(f)
	var base []Doc
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		doc, meta, err := norm.Append(nil, rec.Bytes)
		if err != nil {
			b.Fatal(err)
		}
		base = append(base, Doc{JSON: doc, Timestamp: meta.Timestamp})
	}
	out := make([]Doc, n)
	for i := range out {
		out[i] = base[i%len(base)]
	}
	return out
}
