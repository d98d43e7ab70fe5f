package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/defender-intake/defender-intake/internal/deadletter"
	"github.com/defender-intake/defender-intake/internal/metrics"
	"github.com/defender-intake/defender-intake/internal/normalize"
	"github.com/defender-intake/defender-intake/internal/sink"
)

// Normalizer turns one raw record into one ECS document; normalize's
// Normalizer is the implementation, the interface lets benchmarks compare.
type Normalizer interface {
	Append(dst, record []byte, extra ...normalize.Field) ([]byte, normalize.Meta, error)
}

// Options configures a Pipeline. Zero values take the defaults noted.
type Options struct {
	Sinks      []sink.Sink
	DeadLetter deadletter.Writer // required
	Metrics    *metrics.Metrics  // default: a fresh registry
	Logger     *slog.Logger      // default: slog.Default()
	// QueueBatches bounds the batches waiting for a worker; with the
	// sources' batch size it bounds memory (default 8).
	QueueBatches int
	// Workers normalize and deliver batches concurrently (default
	// GOMAXPROCS).
	Workers int
	// RetryInitial and RetryMax bound the exponential backoff between
	// attempts of a failing sink (defaults 200ms and 30s).
	RetryInitial, RetryMax time.Duration
	// DrainTimeout is how long, after shutdown starts, the pipeline keeps
	// delivering what sources already emitted (default 30s). What is not
	// delivered by then is not acknowledged, so it is read again.
	DrainTimeout time.Duration
	// NewNormalizer makes one normalizer per worker (default normalize.New).
	NewNormalizer func() Normalizer
	// Split splits a message body into records (default: envelope.SplitBody's
	// contract, with buffers reused per worker).
	Split func(body []byte, fn func(rec []byte)) error
	// Now is the clock for event.ingested and lag (default time.Now).
	Now func() time.Time
}

func (o *Options) setDefaults() {
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.QueueBatches <= 0 {
		o.QueueBatches = 8
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.RetryInitial <= 0 {
		o.RetryInitial = 200 * time.Millisecond
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 30 * time.Second
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 30 * time.Second
	}
	if o.NewNormalizer == nil {
		o.NewNormalizer = func() Normalizer { return normalize.New(normalize.Options{}) }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Pipeline connects sources to sinks. It implements Emitter.
type Pipeline struct {
	opts   Options
	queue  chan *job
	acks   *ackOrder
	sinkMu []sync.Mutex
	ready  atomic.Bool
	// unorderedSeq gives each unordered batch a partition key of its own.
	unorderedSeq atomic.Uint64
	// closing is closed when no more batches are accepted.
	closing chan struct{}
	// stopCtx ends when a stop begins (ctx of Run ended or a source
	// failed), for waits that are pointless during a stop.
	stopCtx context.Context
}

type job struct {
	key    partKey
	batch  *Batch
	ticket *ticket
}

// New returns a pipeline; nothing runs until Run.
func New(opts Options) *Pipeline {
	opts.setDefaults()
	return &Pipeline{
		opts:    opts,
		queue:   make(chan *job, opts.QueueBatches),
		acks:    newAckOrder(),
		sinkMu:  make([]sync.Mutex, len(opts.Sinks)),
		closing: make(chan struct{}),
	}
}

// Ready reports whether the pipeline is running and not shutting down; it
// backs /readyz.
func (p *Pipeline) Ready() bool { return p.ready.Load() }

// Emit implements Emitter.
func (p *Pipeline) Emit(ctx context.Context, b *Batch) error {
	if b == nil || len(b.Messages) == 0 || b.Ack == nil {
		return errors.New("pipeline: empty batch or missing Ack")
	}
	o := b.Messages[0].Origin
	k := partKey{source: o.Source, partition: o.Partition}
	if b.Unordered {
		k.unordered = p.unorderedSeq.Add(1)
	}
	var n, size int
	for i := range b.Messages {
		n++
		size += len(b.Messages[i].Body)
	}
	t := p.acks.enqueue(k, b)
	select {
	case p.queue <- &job{key: k, batch: b, ticket: t}:
		m := p.opts.Metrics
		m.MessagesReceived.WithLabelValues(o.Source, o.Partition).Add(float64(n))
		m.BytesReceived.WithLabelValues(o.Source, o.Partition).Add(float64(size))
		m.BatchesInFlight.WithLabelValues(o.Source).Inc()
		return nil
	case <-ctx.Done():
		p.acks.abandon(k, t, ctx.Err())
		return ctx.Err()
	case <-p.closing:
		p.acks.abandon(k, t, errShutdown)
		return errShutdown
	}
}

var errShutdown = errors.New("pipeline: shutting down")

// stopping reports whether a stop has begun.
func (p *Pipeline) stopping() bool { return p.stopCtx != nil && p.stopCtx.Err() != nil }

// Run starts the workers and the sources, and returns when every source
// has returned and everything they emitted was delivered or, after
// DrainTimeout past ctx's end, given up (unacknowledged). Sinks and the
// dead-letter writer are closed before Run returns. The first source error
// stops the other sources and is returned.
func (p *Pipeline) Run(ctx context.Context, sources []Source) error {
	log := p.opts.Logger
	srcCtx, stopSources := context.WithCancel(ctx)
	defer stopSources()
	deliverCtx, stopDelivery := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDelivery()
	stopCtx, markStopping := context.WithCancel(deliverCtx)
	defer markStopping()
	p.stopCtx = stopCtx

	sourcesDone := make(chan struct{})
	go func() {
		select {
		case <-srcCtx.Done():
		case <-sourcesDone:
			return
		}
		p.ready.Store(false)
		markStopping()
		t := time.NewTimer(p.opts.DrainTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			log.Warn("drain timeout reached: undelivered batches stay unacknowledged and will be read again", "timeout", p.opts.DrainTimeout)
			stopDelivery()
		case <-sourcesDone:
		}
	}()

	var workers sync.WaitGroup
	for i := 0; i < p.opts.Workers; i++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			p.work(deliverCtx)
		}()
	}
	p.ready.Store(true)

	var (
		srcWG   sync.WaitGroup
		errMu   sync.Mutex
		srcErrs []error
	)
	for _, s := range sources {
		srcWG.Add(1)
		go func() {
			defer srcWG.Done()
			if err := s.Run(srcCtx, p); err != nil {
				log.Error("source failed; stopping", "source", s.Name(), "err", err)
				errMu.Lock()
				srcErrs = append(srcErrs, fmt.Errorf("source %s: %w", s.Name(), err))
				errMu.Unlock()
				stopSources()
			}
		}()
	}
	srcWG.Wait()
	close(sourcesDone)
	p.ready.Store(false)
	close(p.closing)
	close(p.queue)
	workers.Wait()

	var errs []error
	errs = append(errs, srcErrs...)
	for _, s := range p.opts.Sinks {
		if err := s.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close sink %s: %w", s.Name(), err))
		}
	}
	if err := p.opts.DeadLetter.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close dead-letter output: %w", err))
	}
	return errors.Join(errs...)
}
