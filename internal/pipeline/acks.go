package pipeline

import "sync"

// ackOrder releases acknowledgements per partition in submission order:
// workers finish batches in any order, but a source that checkpoints on
// Ack must never be told about batch n+1 before batch n.
type ackOrder struct {
	mu    sync.Mutex
	parts map[partKey]*partQueue
}

type partKey struct {
	source, partition string
	unordered         uint64 // non-zero: a key used by one batch only
}

type partQueue struct {
	pending []*ticket
	// broken is set when a batch of the partition reaches the head of the
	// queue failed or abandoned (never delivered): every batch submitted
	// after it is acknowledged with an error so the source cannot advance
	// past the gap. Batches submitted before it are not affected: they
	// are acknowledged as they were delivered, which is what lets a
	// graceful stop record exactly what was delivered.
	broken error
}

// ticket is one submitted batch waiting for its turn to be acknowledged.
type ticket struct {
	batch *Batch
	done  bool
	err   error
}

func newAckOrder() *ackOrder { return &ackOrder{parts: map[partKey]*partQueue{}} }

// enqueue records b as the newest batch of its partition.
func (a *ackOrder) enqueue(k partKey, b *Batch) *ticket {
	t := &ticket{batch: b}
	a.mu.Lock()
	q := a.parts[k]
	if q == nil {
		q = &partQueue{}
		a.parts[k] = q
	}
	q.pending = append(q.pending, t)
	a.mu.Unlock()
	return t
}

// abandon marks t, which the pipeline never took, as failed without
// calling its Ack. Once the batches before it are acknowledged it breaks
// the partition for the batches after it.
func (a *ackOrder) abandon(k partKey, t *ticket, err error) {
	a.finish(k, t, err, false)
}

// complete marks t finished with err and calls, in order, the Acks of the
// finished batches at the head of the partition's queue.
func (a *ackOrder) complete(k partKey, t *ticket, err error) {
	a.finish(k, t, err, true)
}

func (a *ackOrder) finish(k partKey, t *ticket, err error, ack bool) {
	a.mu.Lock()
	q := a.parts[k]
	t.done, t.err = true, err
	if !ack {
		t.batch = nil
	}
	var ready []*ticket
	for len(q.pending) > 0 && q.pending[0].done {
		h := q.pending[0]
		q.pending[0] = nil
		q.pending = q.pending[1:]
		if h.batch == nil {
			// Abandoned: only what was submitted after it is held back.
			if q.broken == nil {
				q.broken = h.err
			}
			continue
		}
		if h.err == nil && q.broken != nil {
			h.err = q.broken
		}
		if h.err != nil && q.broken == nil {
			// A failed batch also breaks the partition: later batches
			// must not let the position jump over it.
			q.broken = h.err
		}
		ready = append(ready, h)
	}
	if len(q.pending) == 0 && (q.broken == nil || k.unordered != 0) {
		delete(a.parts, k)
	}
	// Acks are called under the lock so that two workers finishing
	// batches of one partition cannot reorder them; Ack is documented
	// as quick.
	for _, h := range ready {
		h.batch.Ack(h.err)
	}
	a.mu.Unlock()
}
