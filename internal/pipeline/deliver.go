package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/defender-intake/defender-intake/internal/deadletter"
	"github.com/defender-intake/defender-intake/internal/envelope"
	"github.com/defender-intake/defender-intake/internal/normalize"
	"github.com/defender-intake/defender-intake/internal/sink"
)

// worker holds the buffers one worker goroutine reuses between batches, so
// steady-state delivery allocates little.
type worker struct {
	p     *Pipeline
	norm  Normalizer
	buf   []byte
	raws  []byte // the raw records of buf's documents, one after another
	spans []span
	docs  []sink.Doc
	// retry holds, per sink, two buffers that alternate as the pending
	// documents of successive retries.
	retry    [][2][]sink.Doc
	dead     []deadletter.Entry
	extra    []normalize.Field
	boxes    originBoxes
	datasets map[string]int
	// onRecord is w.record; msg, now and records are its state for the
	// message being split.
	onRecord func(rec []byte)
	split    func(body []byte, fn func(rec []byte)) error
	msg      *Message
	now      time.Time
	records  int
}

// record normalizes one record of w.msg into w.buf.
func (w *worker) record(rec []byte) {
	w.records++
	start := len(w.buf)
	out, meta, err := w.norm.Append(w.buf, rec, w.extra...)
	if err != nil {
		w.deadLetter(w.msg, w.now, "normalize", err.Error(), rec)
		return
	}
	w.buf = out
	rawStart := len(w.raws)
	w.raws = append(w.raws, rec...) // rec is only valid during this call
	w.spans = append(w.spans, span{start: start, end: len(out), rawStart: rawStart, rawEnd: len(w.raws), meta: meta})
	w.datasets[meta.Dataset]++
}

type span struct {
	start, end       int // the document in buf
	rawStart, rawEnd int // its record in raws
	meta             normalize.Meta
}

func (p *Pipeline) work(ctx context.Context) {
	w := &worker{p: p, norm: p.opts.NewNormalizer(), datasets: map[string]int{}}
	w.onRecord = w.record // bound once: a closure per message would allocate
	w.split = p.opts.Split
	if w.split == nil {
		w.split = (&bodySplitter{}).split
	}
	for j := range p.queue {
		var err error
		if ctx.Err() != nil {
			err = ctx.Err()
		} else {
			err = w.deliver(ctx, j.batch)
		}
		src := j.batch.Messages[0].Origin.Source
		p.acks.complete(j.key, j.ticket, err)
		p.opts.Metrics.BatchesInFlight.WithLabelValues(src).Dec()
		if len(w.buf) > 8<<20 {
			// One huge batch must not pin its buffers for the process's life.
			w.buf, w.raws = nil, nil
		}
	}
}

// deliver normalizes b and writes it to the dead-letter output and every
// sink, retrying until all is durable or ctx ends.
func (w *worker) deliver(ctx context.Context, b *Batch) error {
	p := w.p
	m := p.opts.Metrics
	now := p.opts.Now()
	w.buf, w.raws, w.spans, w.docs, w.dead = w.buf[:0], w.raws[:0], w.spans[:0], w.docs[:0], w.dead[:0]
	clear(w.datasets)
	src := b.Messages[0].Origin.Source
	part := b.Messages[0].Origin.Partition
	w.records = 0
	var lastEnqueued time.Time
	for i := range b.Messages {
		msg := &b.Messages[i]
		if !msg.Origin.EnqueuedTime.IsZero() {
			lastEnqueued = msg.Origin.EnqueuedTime
		}
		if msg.DecodeError != "" {
			w.deadLetter(msg, now, "source", msg.DecodeError, msg.Body)
			continue
		}
		w.extra = w.boxes.fields(w.extra[:0], msg.Origin, now)
		split := w.split
		if msg.Single {
			split = single
		}
		w.msg, w.now = msg, now
		err := split(msg.Body, w.onRecord)
		switch {
		case err == nil:
		case errors.Is(err, envelope.ErrEmpty):
			m.EmptyMessages.WithLabelValues(src).Inc()
		default:
			raw := msg.Body
			var ee *envelope.Error
			if errors.As(err, &ee) && len(ee.Parts) > 0 {
				// Damaged in several places: each bad stretch is one
				// dead letter with its own line and exact bytes.
				for _, part := range ee.Parts {
					w.deadLetter(msg, now, "envelope", part.Error(), part.Raw)
				}
				continue
			}
			if ee != nil && len(ee.Raw) > 0 {
				raw = ee.Raw
			}
			w.deadLetter(msg, now, "envelope", err.Error(), raw)
		}
	}
	m.RecordsReceived.WithLabelValues(src, part).Add(float64(w.records))
	for ds, n := range w.datasets {
		m.RecordsNormalized.WithLabelValues(src, ds).Add(float64(n))
	}
	for _, s := range w.spans {
		// Capacity capped: a sink appending to a document must not write
		// over the next one.
		w.docs = append(w.docs, sink.Doc{JSON: w.buf[s.start:s.end:s.end], Dataset: s.meta.Dataset, Timestamp: s.meta.Timestamp,
			Raw: w.raws[s.rawStart:s.rawEnd:s.rawEnd]})
	}

	if len(w.dead) > 0 {
		if err := w.retryUntil(ctx, "dead-letter", func() error { return p.opts.DeadLetter.Write(ctx, w.dead) }); err != nil {
			return err
		}
		for _, e := range w.dead {
			m.DeadLettered.WithLabelValues(src, e.Stage).Inc()
		}
	}
	if len(w.docs) > 0 {
		if err := w.writeSinks(ctx); err != nil {
			return err
		}
	}
	if !lastEnqueued.IsZero() {
		m.LagSeconds.WithLabelValues(src, part).Set(p.opts.Now().Sub(lastEnqueued).Seconds())
	}
	b.Outcome = Outcome{Taken: len(w.docs), Refused: len(w.dead)}
	if len(w.dead) > 0 {
		b.Outcome.Reason = w.dead[0].Reason
	}
	return nil
}

// single is the Split of a message that holds exactly one record.
func single(body []byte, fn func([]byte)) error {
	fn(body)
	return nil
}

func (w *worker) deadLetter(msg *Message, now time.Time, stage, reason string, raw []byte) {
	o := msg.Origin
	w.dead = append(w.dead, deadletter.Entry{
		Time: now, Reason: reason, Stage: stage,
		Source: o.Source, Type: o.Type, Stream: o.Stream, Partition: o.Partition,
		Offset: o.Offset, SequenceNumber: o.SequenceNumber, EnqueuedTime: o.EnqueuedTime,
		Raw: append([]byte(nil), raw...),
	})
}

// writeSinks writes w.docs to every sink, concurrently when there are
// several, so that a slow or failing forwarder does not add its latency to
// the others'. The documents are shared read-only.
func (w *worker) writeSinks(ctx context.Context) error {
	sinks := w.p.opts.Sinks
	if len(w.retry) != len(sinks) {
		w.retry = make([][2][]sink.Doc, len(sinks))
	}
	if len(sinks) == 1 {
		return w.writeSink(ctx, 0, sinks[0])
	}
	errs := make([]error, len(sinks))
	var wg sync.WaitGroup
	for i, s := range sinks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.writeSink(ctx, i, s)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// writeSink writes w.docs to sink i, then retries only the documents the
// sink reported as failed, with exponential backoff, until all are
// accepted or ctx ends.
func (w *worker) writeSink(ctx context.Context, i int, s sink.Sink) error {
	p := w.p
	m := p.opts.Metrics
	pending := w.docs
	backoff := p.opts.RetryInitial
	for flip := 0; ; flip ^= 1 {
		p.sinkMu[i].Lock()
		start := time.Now()
		err := s.Write(ctx, pending)
		p.sinkMu[i].Unlock()
		m.SinkWriteSeconds.WithLabelValues(s.Name()).Observe(time.Since(start).Seconds())
		failed := sink.FailedIndices(err, len(pending))
		m.SinkDocs.WithLabelValues(s.Name()).Add(float64(len(pending) - len(failed)))
		if len(failed) == 0 {
			return nil
		}
		m.SinkErrors.WithLabelValues(s.Name()).Inc()
		// A target that refuses every request (credentials, URL) will not
		// take the documents within a stop's drain_timeout: they stay
		// unacknowledged, and the sink logs the outage itself (rate-limited).
		refused := errors.Is(err, sink.ErrTargetUnavailable)
		if refused && p.stopping() {
			return err
		}
		level := slog.LevelWarn
		if refused {
			level = slog.LevelDebug
		}
		p.opts.Logger.Log(ctx, level, "sink write failed; retrying", "sink", s.Name(), "failed", len(failed), "of", len(pending), "backoff", backoff, "err", err)
		next := w.retry[i][flip][:0]
		for _, f := range failed {
			if f >= 0 && f < len(pending) {
				next = append(next, pending[f])
			}
		}
		w.retry[i][flip] = next
		pending = next
		wake := ctx
		if refused && p.stopCtx != nil {
			wake = p.stopCtx
		}
		if serr := sleep(wake, jitter(backoff)); serr != nil {
			if refused {
				return err
			}
			return serr
		}
		backoff = min(backoff*2, p.opts.RetryMax)
	}
}

// retryUntil calls f until it succeeds or ctx ends, with backoff.
func (w *worker) retryUntil(ctx context.Context, what string, f func() error) error {
	backoff := w.p.opts.RetryInitial
	for {
		err := f()
		if err == nil {
			return nil
		}
		w.p.opts.Logger.Warn("write failed; retrying", "output", what, "backoff", backoff, "err", err)
		if err := sleep(ctx, jitter(backoff)); err != nil {
			return err
		}
		backoff = min(backoff*2, w.p.opts.RetryMax)
	}
}

func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
