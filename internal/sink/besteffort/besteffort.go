// Package besteffort wraps a sink so that it never holds the sources'
// checkpoints back: Write queues the documents in a bounded on-disk queue
// and returns at once, a background loop delivers the queue to the real
// sink with retries, and what does not fit in the queue is dropped and
// counted (metrics and logs). It is for secondary targets (a second SIEM,
// an analytics cluster) whose outage must not stop collection.
package besteffort

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/defender-intake/defender-intake/internal/sink"
)

// Config is the `buffer` section of a best-effort sink.
type Config struct {
	// Dir holds the queue's segment files; empty means data/queue-<sink>.
	Dir string `yaml:"dir"`
	// MaxMB bounds the queue on disk; documents that do not fit are
	// dropped and counted.
	MaxMB int `yaml:"max_mb"`
	// BatchDocs is how many queued documents one delivery writes.
	BatchDocs int `yaml:"batch_docs"`
	// RetryMax is the ceiling of the backoff while the target is down.
	RetryMax time.Duration `yaml:"retry_max"`
	// CloseTimeout is how long Close keeps delivering the queue; the rest
	// stays on disk for the next start.
	CloseTimeout time.Duration `yaml:"close_timeout"`
}

// DefaultConfig holds the defaults.
func DefaultConfig() Config {
	return Config{MaxMB: 1024, BatchDocs: 1000, RetryMax: 30 * time.Second, CloseTimeout: 5 * time.Second}
}

// Validate checks the section without changing it.
func (c Config) Validate() error {
	var errs []error
	if c.MaxMB < 1 {
		errs = append(errs, errors.New("max_mb: must be >= 1"))
	}
	if c.BatchDocs < 1 {
		errs = append(errs, errors.New("batch_docs: must be >= 1"))
	}
	if c.RetryMax <= 0 {
		errs = append(errs, errors.New("retry_max: must be > 0"))
	}
	if c.CloseTimeout < 0 {
		errs = append(errs, errors.New("close_timeout: must be >= 0"))
	}
	return errors.Join(errs...)
}

// Sink is the best-effort wrapper.
//
// Its acknowledgement contract differs from sink.Sink on purpose: Write
// returning nil means the documents were queued on local disk (not
// fsynced) or dropped and counted, not that the target has them.
type Sink struct {
	inner sink.Sink
	cfg   Config
	q     *queue
	log   *slog.Logger
	stats *stats

	// unlogged counts drops not yet logged; lastLog is the last log
	// line about drops (Write is never concurrent).
	unlogged int
	lastLog  time.Time

	stop    context.CancelFunc
	ctx     context.Context
	done    chan struct{}
	closing sync.Once
}

// Open wraps inner; queued documents left by a previous run are
// delivered first.
func Open(inner sink.Sink, cfg Config) (*Sink, error) {
	q, err := openQueue(cfg.Dir, int64(cfg.MaxMB)<<20)
	if err != nil {
		return nil, fmt.Errorf("best-effort sink %s: %w", inner.Name(), err)
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Sink{inner: inner, cfg: cfg, q: q, log: slog.Default().With("sink", inner.Name()), stats: statsFor(inner.Name()),
		ctx: ctx, stop: stop, done: make(chan struct{})}
	s.stats.queued.Set(float64(q.bytes()))
	go s.deliverLoop()
	return s, nil
}

// Name implements sink.Sink.
func (s *Sink) Name() string { return s.inner.Name() }

// Write queues docs and returns nil unless the queue itself is broken
// (a disk error), so the pipeline never waits on the target.
func (s *Sink) Write(_ context.Context, docs []sink.Doc) error {
	kept, err := s.q.push(docs)
	dropped := len(docs) - kept
	s.stats.dropped.Add(float64(dropped))
	s.unlogged += dropped
	// A full queue drops on every Write: log at most every 10 seconds,
	// with the count since the last line.
	if s.unlogged > 0 && (err != nil || time.Since(s.lastLog) >= 10*time.Second) {
		if err != nil {
			// A broken queue must not stop collection either.
			s.log.Error("best-effort queue write failed: documents dropped", "dropped", s.unlogged, "err", err)
		} else {
			s.log.Warn("best-effort queue full: documents dropped", "dropped", s.unlogged, "max_mb", s.cfg.MaxMB)
		}
		s.unlogged, s.lastLog = 0, time.Now()
	}
	s.stats.queued.Set(float64(s.q.bytes()))
	return nil
}

// Close delivers what it can within CloseTimeout, keeps the rest on disk,
// and closes the real sink.
func (s *Sink) Close() error {
	var err error
	s.closing.Do(func() {
		s.q.closeWriter()
		t := time.NewTimer(s.cfg.CloseTimeout)
		select {
		case <-s.done:
		case <-t.C:
			s.stop()
			<-s.done
		}
		t.Stop()
		s.stop()
		err = errors.Join(s.q.close(), s.inner.Close())
	})
	return err
}

// deliverLoop sends queued segments to the real sink, oldest first, and
// removes each once fully accepted. It ends when the queue is closed and
// empty, or when stopped.
func (s *Sink) deliverLoop() {
	defer close(s.done)
	backoff := 100 * time.Millisecond
	for {
		seg, docs, ok := s.q.next(s.ctx)
		if !ok {
			return
		}
		for start := 0; start < len(docs); {
			end := min(start+s.cfg.BatchDocs, len(docs))
			pending := docs[start:end]
			for len(pending) > 0 {
				err := s.inner.Write(s.ctx, pending)
				failed := sink.FailedIndices(err, len(pending))
				s.stats.delivered.Add(float64(len(pending) - len(failed)))
				if len(failed) == 0 {
					backoff = 100 * time.Millisecond
					break
				}
				next := make([]sink.Doc, 0, len(failed))
				for _, f := range failed {
					next = append(next, pending[f])
				}
				pending = next
				s.stats.errors.Inc()
				level := slog.LevelWarn
				if errors.Is(err, sink.ErrTargetUnavailable) {
					// The sink logs that itself, at most once a minute.
					level = slog.LevelDebug
				}
				s.log.Log(s.ctx, level, "best-effort target failed; documents stay queued", "failed", len(failed), "backoff", backoff, "err", err)
				t := time.NewTimer(backoff/2 + rand.N(backoff/2+1))
				select {
				case <-t.C:
				case <-s.ctx.Done():
					t.Stop()
					return // the segment stays on disk
				}
				backoff = min(backoff*2, s.cfg.RetryMax)
			}
			start = end
		}
		if err := s.q.remove(seg); err != nil {
			s.log.Error("best-effort queue: remove delivered segment", "err", err)
		}
		s.stats.queued.Set(float64(s.q.bytes()))
	}
}
