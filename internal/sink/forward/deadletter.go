package forward

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/defender-intake/defender-intake/internal/deadletter"
	"github.com/defender-intake/defender-intake/internal/sink"
)

// Rejects writes the documents a target refused for good to the sink's
// dead-letter file: the raw record (the document's message field, so the
// file can be replayed with the file source once the cause is fixed) or
// the document when it has none, with its origin and the target's reason.
type Rejects struct {
	sink string
	path string
	w    deadletter.Writer
	now  func() time.Time
	log  *slog.Logger
}

// OpenRejects opens the dead-letter file at path for sink name.
func OpenRejects(name, path string) (*Rejects, error) {
	w, err := deadletter.OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", name, err)
	}
	return &Rejects{sink: name, path: path, w: w, now: time.Now, log: slog.Default().With("sink", name)}, nil
}

// docOrigin is what a dead-letter entry takes from a document.
type docOrigin struct {
	Message        *string `json:"message"`
	DefenderIntake struct {
		Origin struct {
			Source         string    `json:"source"`
			Type           string    `json:"type"`
			Stream         string    `json:"stream"`
			Partition      string    `json:"partition"`
			Offset         *int64    `json:"offset"`
			SequenceNumber *int64    `json:"sequence_number"`
			EnqueuedTime   time.Time `json:"enqueued_time"`
		} `json:"origin"`
	} `json:"defender_intake"`
}

// Entry builds the dead-letter entry of doc refused with reason.
func (r *Rejects) Entry(doc []byte, reason string) deadletter.Entry {
	e := deadletter.Entry{Time: r.now(), Stage: "sink", Reason: "sink " + r.sink + ": " + reason, Offset: -1, SequenceNumber: -1, Raw: append([]byte(nil), doc...)}
	var o docOrigin
	if json.Unmarshal(doc, &o) != nil {
		return e
	}
	if o.Message != nil {
		e.Raw = []byte(*o.Message)
	}
	og := o.DefenderIntake.Origin
	e.Source, e.Type, e.Stream, e.Partition, e.EnqueuedTime = og.Source, og.Type, og.Stream, og.Partition, og.EnqueuedTime
	if og.Offset != nil {
		e.Offset = *og.Offset
	}
	if og.SequenceNumber != nil {
		e.SequenceNumber = *og.SequenceNumber
	}
	return e
}

// Write durably records docs[i] for every i of idx with its reason
// (reasons[k] for idx[k]).
func (r *Rejects) Write(ctx context.Context, docs []sink.Doc, idx []int, reasons []string) error {
	if len(idx) == 0 {
		return nil
	}
	entries := make([]deadletter.Entry, len(idx))
	for k, i := range idx {
		entries[k] = r.Entry(docs[i].JSON, reasons[k])
	}
	if err := r.w.Write(ctx, entries); err != nil {
		return fmt.Errorf("sink %s: dead-letter: %w", r.sink, err)
	}
	return nil
}

// Refused collects the documents of one Write that the target refused
// for good, so that Settle dead-letters them together. The zero value is
// empty; Reset empties it for the next Write.
type Refused struct {
	idx     []int
	reasons []string
}

// Add records that document i was refused with err. It has the signature
// of the reject functions of Chunks.Send and Narrow, and never fails.
func (r *Refused) Add(i int, err error) error {
	r.AddReason(i, err.Error())
	return nil
}

// AddReason records that document i was refused for reason.
func (r *Refused) AddReason(i int, reason string) {
	r.idx = append(r.idx, i)
	r.reasons = append(r.reasons, reason)
}

// Len is the number of refused documents.
func (r *Refused) Len() int { return len(r.idx) }

// Reset empties r, keeping its memory.
func (r *Refused) Reset() { r.idx, r.reasons = r.idx[:0], r.reasons[:0] }

// Settle ends a Write of docs that ended with err (nil, or the documents
// left for the pipeline to retry) and whose refused documents are in
// refused: it dead-letters them in one write (one fsync) and logs one
// line with their count and the first reason, instead of a write and a
// line per document. When the dead-letter file cannot take them, they
// are added to the documents the pipeline retries. It returns the Write's
// result and empties refused.
func (r *Rejects) Settle(ctx context.Context, docs []sink.Doc, refused *Refused, err error) error {
	if refused.Len() == 0 {
		return err
	}
	defer refused.Reset()
	dlErr := r.Write(ctx, docs, refused.idx, refused.reasons)
	if dlErr != nil {
		failed := append(slices.Clone(refused.idx), sink.FailedIndices(err, len(docs))...)
		slices.Sort(failed)
		return &sink.PartialError{Failed: slices.Compact(failed), Err: errors.Join(err, dlErr)}
	}
	sinkDeadLettered.WithLabelValues(r.sink).Add(float64(refused.Len()))
	r.log.Warn("documents refused by the target; dead-lettered", "count", refused.Len(), "of", len(docs), "first_reason", refused.reasons[0], "file", r.path)
	if err == nil {
		return nil
	}
	// A sink that gave up on a request after narrowing part of it down
	// reports the whole request failed: what is dead-lettered is not
	// retried (and dead-lettered) again.
	var failed []int
	for _, i := range sink.FailedIndices(err, len(docs)) {
		if !slices.Contains(refused.idx, i) {
			failed = append(failed, i)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return &sink.PartialError{Failed: failed, Err: err}
}

// Close closes the file.
func (r *Rejects) Close() error { return r.w.Close() }
