package http

import (
	"context"
	"net/http"
	"sync"

	"github.com/defender-intake/defender-intake/internal/pipeline"
)

// maxBatchMessages bounds the messages of one batch, with
// pipeline.MaxBatchBytes bounding their bytes.
const maxBatchMessages = 10_000

// deliver emits msgs once a delivery slot is free, in batches of at most
// pipeline.MaxBatchBytes and maxBatchMessages, and waits for all their
// acknowledgements: it returns the sum of their outcomes and 200, or 503
// and why, all within Timeout. A worker holds a batch's documents while
// it delivers them: one batch for a 63 MB body made the process peak at
// 645 MB.
//
// The slot and h are released once every batch emitted is acknowledged,
// not at the answer: a request answered 503 on timeout is still in the
// pipeline. Freeing its slot let every retry of a client put one more
// copy of its records into a stuck pipeline (10 attempts, 10 copies
// delivered once it recovered), and freeing its memory let the bodies
// waiting there grow without bound.
//
// conn is the request's context, which ends when the client leaves or
// half-closes its side (it may still wait for the answer). Only the wait
// for a slot ends with it: a client gone by then has nothing emitted, so
// the copies it sends again are not duplicates. Once a batch is emitted,
// the request waits for delivery whatever the connection does: answering
// 503 then, while the batch was delivered anyway, made every retry of a
// half-closing client a duplicate.
func (s *Source) deliver(conn context.Context, msgs []pipeline.Message, h *hold) (pipeline.Outcome, int, string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(conn), s.cfg.Timeout)
	defer cancel()
	select {
	case s.slots <- struct{}{}:
	default:
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			return pipeline.Outcome{}, http.StatusServiceUnavailable, "no delivery slot free in time, retry later"
		case <-conn.Done():
			return pipeline.Outcome{}, http.StatusServiceUnavailable, "the connection ended before a delivery slot was free"
		}
	}
	h.handed = true // released below, once all is acknowledged

	var ends []int // ends[i] is the end in msgs of batch i
	for i := 0; i < len(msgs); {
		i += pipeline.BatchLen(len(msgs)-i, maxBatchMessages, func(j int) int { return len(msgs[i+j].Body) })
		ends = append(ends, i)
	}
	var (
		mu       sync.Mutex
		outcomes = make([]pipeline.Outcome, len(ends))
		failed   error
		// pending counts the batches emitted and not acknowledged, plus
		// one while emitting.
		pending = 1
		settled = make(chan struct{})
	)
	unpend := func() { // with mu held
		if pending--; pending == 0 {
			<-s.slots
			h.release()
			close(settled)
		}
	}
	var emitErr error
	for i, end := range ends {
		start := 0
		if i > 0 {
			start = ends[i-1]
		}
		b := &pipeline.Batch{Messages: msgs[start:end], Unordered: true}
		b.Ack = func(err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil && failed == nil {
				failed = err
			}
			outcomes[i] = b.Outcome
			unpend()
		}
		mu.Lock()
		pending++
		mu.Unlock()
		if emitErr = s.out.Emit(ctx, b); emitErr != nil {
			mu.Lock()
			unpend() // never taken: never acknowledged
			mu.Unlock()
			break
		}
	}
	mu.Lock()
	unpend()
	mu.Unlock()
	if emitErr != nil {
		// Batches already taken are delivered all the same.
		return pipeline.Outcome{}, http.StatusServiceUnavailable, "not accepted, retry later: " + emitErr.Error()
	}
	select {
	case <-settled:
	case <-ctx.Done():
		// The batches may still be delivered: a retry can duplicate
		// them, which at-least-once allows; answering 200 could lose
		// them.
		return pipeline.Outcome{}, http.StatusServiceUnavailable, "delivery not confirmed in time, retry later"
	}
	mu.Lock()
	defer mu.Unlock()
	if failed != nil {
		return pipeline.Outcome{}, http.StatusServiceUnavailable, "not delivered, retry later: " + failed.Error()
	}
	var out pipeline.Outcome
	for _, o := range outcomes {
		out.Taken += o.Taken
		out.Refused += o.Refused
		if out.Reason == "" {
			out.Reason = o.Reason
		}
	}
	return out, http.StatusOK, ""
}
