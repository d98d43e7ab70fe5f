package forward

import (
	"context"
	"encoding/json"
	"fmt"
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
	w    *deadletter.File
	now  func() time.Time
}

// OpenRejects opens the dead-letter file at path for sink name.
func OpenRejects(name, path string) (*Rejects, error) {
	w, err := deadletter.OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", name, err)
	}
	return &Rejects{sink: name, w: w, now: time.Now}, nil
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

// Close closes the file.
func (r *Rejects) Close() error { return r.w.Close() }
