package capture

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hamba/avro/v2/ocf"

	"github.com/defender-intake/defender-intake/internal/pipeline"
)

// readFile emits the Capture events of f that were not delivered before,
// in batches whose acknowledgements advance f's saved progress.
func (s *Source) readFile(ctx context.Context, f file, out pipeline.Emitter, inflight *sync.WaitGroup, p *progress) error {
	s.mu.Lock()
	pos := s.progress[f.Name]
	if pos == nil || pos.Size != f.Size {
		// New, or not the file we saw before: from the start.
		pos = &filePos{Size: f.Size}
		s.progress[f.Name] = pos
		s.dirty = true
	}
	skip := pos.Records
	s.mu.Unlock()

	rc, err := s.store.Open(ctx, f)
	if err != nil {
		return fmt.Errorf("capture source %s: open %s: %w", s.name, f.Name, err)
	}
	defer rc.Close()
	counted := &countingReader{r: rc, n: &p.bytesRead}
	partition := partitionOf(f.Name)
	origin := pipeline.Origin{Source: s.name, Type: "capture", Stream: f.Name, Partition: partition, Offset: -1, SequenceNumber: -1}

	var (
		batch []pipeline.Message
		n     int64 // Capture events read from f
		run   fileRun
	)
	emit := func() error {
		if len(batch) == 0 {
			return nil
		}
		end := n
		b := &pipeline.Batch{Messages: batch, Ack: func(err error) {
			defer inflight.Done()
			s.mu.Lock()
			defer s.mu.Unlock()
			run.pending--
			if err != nil {
				run.failed = true
				return
			}
			if end > pos.Records {
				pos.Records = end
				s.dirty = true
			}
			s.completeLocked(pos, &run)
			s.saver.Changed()
		}}
		inflight.Add(1)
		s.mu.Lock()
		run.pending++
		s.mu.Unlock()
		if err := out.Emit(ctx, b); err != nil {
			s.mu.Lock()
			run.pending--
			run.failed = true
			s.mu.Unlock()
			inflight.Done()
			return err
		}
		p.records.Add(int64(len(batch)))
		batch = nil
		return nil
	}

	dec, err := ocf.NewDecoder(counted)
	if err != nil {
		// Not a Capture file at all: dead-letter one entry naming it.
		n = 1
		batch = append(batch, pipeline.Message{Origin: origin, DecodeError: fmt.Sprintf("capture file %s is not Avro: %v", f.Name, err)})
		if err := emit(); err != nil {
			return err
		}
		s.ended(pos, &run, n)
		return nil
	}
	broken := false
	for dec.HasNext() {
		var e Event
		if err := dec.Decode(&e); err != nil {
			broken = true
			n++
			if n > skip {
				batch = append(batch, pipeline.Message{Origin: origin, DecodeError: fmt.Sprintf("capture file %s: event %d cannot be decoded (the rest of the file is skipped): %v", f.Name, n, err)})
			}
			break
		}
		n++
		if n <= skip {
			continue
		}
		o := origin
		o.SequenceNumber = e.SequenceNumber
		if off, err := strconv.ParseInt(e.Offset, 10, 64); err == nil {
			o.Offset = off
		}
		o.EnqueuedTime = parseEnqueued(e.EnqueuedTimeUtc)
		batch = append(batch, pipeline.Message{Origin: o, Body: e.Body})
		if len(batch) >= s.cfg.BatchMessages {
			if err := emit(); err != nil {
				return err
			}
		}
	}
	if err := dec.Error(); err != nil && !broken {
		n++
		if n > skip {
			batch = append(batch, pipeline.Message{Origin: origin, DecodeError: fmt.Sprintf("capture file %s: damaged after event %d (the rest of the file is skipped): %v", f.Name, n-1, err)})
		}
	}
	if err := emit(); err != nil {
		return err
	}
	p.fileDone()
	s.ended(pos, &run, n)
	return nil
}

// fileRun tracks the batches of one file in flight, to know when the
// whole file is delivered.
type fileRun struct {
	pending int   // batches emitted and not acknowledged
	eof     bool  // the whole file was read
	total   int64 // events in the file, once eof
	failed  bool  // a batch was not delivered: the file is not done
}

// ended records that f was read to its end with n events.
func (s *Source) ended(pos *filePos, run *fileRun, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	run.eof, run.total = true, n
	s.completeLocked(pos, run)
	s.saver.Changed()
}

// completeLocked marks the file done once it was read whole and every
// one of its events was delivered.
func (s *Source) completeLocked(pos *filePos, run *fileRun) {
	if run.eof && run.pending == 0 && !run.failed && pos.Records >= run.total && !pos.Done {
		pos.Done, s.dirty = true, true
	}
}

func (s *Source) save() error {
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return nil
	}
	snap := make(map[string]filePos, len(s.progress))
	for k, v := range s.progress {
		snap[k] = *v
	}
	s.dirty = false
	s.mu.Unlock()
	if err := s.state.Save(snap); err != nil {
		s.m.CheckpointErrs.WithLabelValues(s.name).Inc()
		s.log.Error("saving capture progress failed", "err", err)
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
		return err
	}
	s.m.Checkpoints.WithLabelValues(s.name).Inc()
	return nil
}

// partitionOf returns the Event Hub partition of a Capture file named
// with the default format {Namespace}/{EventHub}/{PartitionId}/{Year}/
// {Month}/{Day}/{Hour}/{Minute}/{Second}, else the whole name.
func partitionOf(name string) string {
	segs := strings.Split(name, "/")
	if len(segs) < 9 {
		return name
	}
	for _, d := range segs[len(segs)-6 : len(segs)-1] {
		if _, err := strconv.Atoi(d); err != nil {
			return name
		}
	}
	return segs[len(segs)-7]
}

// parseEnqueued reads Capture's EnqueuedTimeUtc ("1/4/2023 2:16:55 PM",
// or ISO 8601 in some writers); zero when unknown.
func parseEnqueued(v string) time.Time {
	for _, layout := range []string{"1/2/2006 3:04:05 PM", time.RFC3339Nano, "2006-01-02T15:04:05.9999999"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// progress logs how far the backfill is: files, bytes, events, rate and
// the time left at that rate.
type progress struct {
	logger     *slog.Logger
	start      time.Time
	files      atomic.Int64
	filesDone  atomic.Int64
	bytes      atomic.Int64
	bytesRead  atomic.Int64
	records    atomic.Int64
	lastLogged atomic.Int64
}

func newProgress(l *slog.Logger) *progress { return &progress{logger: l, start: time.Now()} }

func (p *progress) add(files []file) {
	for _, f := range files {
		p.files.Add(1)
		p.bytes.Add(f.Size)
	}
}

func (p *progress) fileDone() { p.filesDone.Add(1) }

func (p *progress) log(final bool) {
	read, total := p.bytesRead.Load(), p.bytes.Load()
	if !final && read == p.lastLogged.Load() {
		return // idle (following, nothing new): say nothing
	}
	p.lastLogged.Store(read)
	elapsed := time.Since(p.start)
	pct := 100.0
	if total > 0 {
		pct = min(100, 100*float64(read)/float64(total))
	}
	var eta time.Duration
	if read > 0 && total > read {
		eta = time.Duration(float64(elapsed) * float64(total-read) / float64(read)).Round(time.Second)
	}
	msg := "capture backfill progress"
	if final {
		msg = "capture backfill stopped"
	}
	p.logger.Info(msg, "files", fmt.Sprintf("%d/%d", p.filesDone.Load(), p.files.Load()),
		"percent", fmt.Sprintf("%.1f", pct), "mb", fmt.Sprintf("%.1f/%.1f", float64(read)/1e6, float64(total)/1e6),
		"events", p.records.Load(), "events_per_s", int(float64(p.records.Load())/max(elapsed.Seconds(), 0.001)), "eta", eta)
}
