package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Async delivers alerts to a slow sink (a webhook) from its own goroutine,
// so detection never waits on the network. It implements AlertSink:
// WriteAlert only queues, and fails at once when the queue is full (the
// alert is still in the store; only this delivery is dropped, and
// counted). Close drains the queue.
type Async struct {
	sink    AlertSink
	queue   chan queued
	log     *slog.Logger
	dropped atomic.Uint64
	failed  atomic.Uint64
	done    chan struct{}
	once    sync.Once
}

type queued struct {
	a      Alert
	change Change
}

// ErrQueueFull is returned by Async.WriteAlert when the queue is full.
var ErrQueueFull = errors.New("alert delivery queue full")

// NewAsync starts delivering to sink with a queue of size alerts.
func NewAsync(sink AlertSink, size int, log *slog.Logger) *Async {
	if size <= 0 {
		size = 1024
	}
	if log == nil {
		log = slog.Default()
	}
	q := &Async{sink: sink, queue: make(chan queued, size), log: log, done: make(chan struct{})}
	go q.run()
	return q
}

func (q *Async) run() {
	defer close(q.done)
	for item := range q.queue {
		if err := q.sink.WriteAlert(context.Background(), item.a, item.change); err != nil {
			q.failed.Add(1)
			q.log.Warn("alert delivery failed", "alert", item.a.ID, "rule", item.a.RuleID, "err", err)
		}
	}
}

// WriteAlert implements AlertSink by queueing a copy of the alert.
func (q *Async) WriteAlert(_ context.Context, a Alert, change Change) error {
	a.EventIDs = append([]string(nil), a.EventIDs...)
	a.Tags = append([]string(nil), a.Tags...)
	select {
	case q.queue <- queued{a, change}:
		return nil
	default:
		q.dropped.Add(1)
		return fmt.Errorf("alert %s: %w", a.ID, ErrQueueFull)
	}
}

// Dropped and Failed count alerts not queued and not delivered.
func (q *Async) Dropped() uint64 { return q.dropped.Load() }
func (q *Async) Failed() uint64  { return q.failed.Load() }

// Close stops accepting alerts and waits until the queued ones were
// delivered or ctx ends. WriteAlert must not be called after Close.
func (q *Async) Close(ctx context.Context) error {
	q.once.Do(func() { close(q.queue) })
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("alert delivery: %d queued alert(s) not delivered: %w", len(q.queue), ctx.Err())
	}
}
