// Package pipeline moves messages from sources through envelope splitting
// and normalization to every sink, and tells each source when it may advance
// its position (Event Hub checkpoint, Kafka commit, file offset, HTTP reply).
//
// Delivery is at-least-once. A batch is acknowledged only after every sink
// has durably accepted every record in it (or the record was durably
// dead-lettered), and the acknowledgements of one partition are delivered in
// the order the batches were submitted, so a source that checkpoints on
// acknowledgement never skips an undelivered message. The model is Beats'
// azureeventhub v2 input and Benthos transactions; the anti-model is an input
// that checkpoints when it reads.
package pipeline

import (
	"context"
	"time"
)

// Origin says where a message came from. It is copied onto every document
// (see docs/collection.md, "Origin fields") and onto dead-letter entries.
type Origin struct {
	// Source is the configured source name.
	Source string
	// Type is the source type: "eventhub", "kafka", "file" or "http".
	Type string
	// Stream is the Event Hub name, Kafka topic, file path or HTTP path.
	Stream string
	// Partition identifies the ordered sub-stream ("0", "3", a file path);
	// acknowledgements are ordered per (Source, Partition).
	Partition string
	// Offset is the Kafka offset, Event Hub offset, or file byte offset;
	// -1 when the source has none.
	Offset int64
	// SequenceNumber is the Event Hub sequence number or the file line;
	// -1 when the source has none.
	SequenceNumber int64
	// EnqueuedTime is when the broker accepted the message; zero when the
	// source does not know it.
	EnqueuedTime time.Time
}

// Message is one unit read by a source: an Event Hub event body, a Kafka
// record value, an HTTP request body, or one record of a file.
type Message struct {
	Origin Origin
	// Body is the raw payload: an envelope {"records":[...]}, a bare
	// record, or an array of records. The pipeline owns it once submitted.
	Body []byte
	// Single says Body is exactly one record that the source already split
	// out (the file source reads with envelope.Reader): the pipeline
	// normalizes it without splitting it again.
	Single bool
	// DecodeError, when not empty, says the source already found Body
	// unusable: the pipeline dead-letters Body with this reason.
	DecodeError string
}

// Batch is a group of messages of one partition submitted together.
type Batch struct {
	Messages []Message
	// Ack is called exactly once. nil means every record of every message
	// was durably accepted by every sink or durably dead-lettered: the
	// source may advance its position past the last message. A non-nil
	// error (shutdown before delivery) means it must not. For batches of
	// the same (Origin.Source, Origin.Partition), Ack calls happen in
	// submission order. Ack must not block for long: it runs on a
	// pipeline goroutine.
	Ack func(err error)
	// Unordered batches are acknowledged as soon as they are delivered,
	// without waiting for earlier batches of the partition (each HTTP
	// request is answered on its own). A failed unordered batch does not
	// hold back others.
	Unordered bool
	// Outcome is set by the pipeline before a nil Ack: what became of the
	// batch's records, for a source that answers a client (HTTP).
	Outcome Outcome
}

// Outcome counts what delivery did with the records of a batch.
type Outcome struct {
	// Taken is the number of records written to every sink.
	Taken int
	// Refused is the number of dead-letter entries written: records, or
	// stretches of input, that could not be used.
	Refused int
	// Reason is the first refusal's reason, "" when none.
	Reason string
}

// Emitter is how a source hands batches to the pipeline.
type Emitter interface {
	// Emit submits b. It blocks while the pipeline's bounded queue is full
	// (backpressure) and returns ctx.Err() if ctx ends first, in which
	// case b was not taken and b.Ack will never be called. A batch must
	// not be empty and all its messages must share one partition.
	Emit(ctx context.Context, b *Batch) error
}

// Source reads messages from one configured input.
type Source interface {
	// Name is the configured source name, used in logs and metrics.
	Name() string
	// Run reads and emits until ctx is cancelled or the input ends (a
	// file without follow mode). Before returning it waits for the Acks of
	// the batches it emitted (the pipeline keeps delivering while sources
	// drain) and records the delivered position, so a graceful stop
	// checkpoints exactly what was delivered. Run returns nil on a normal
	// end, including cancellation.
	Run(ctx context.Context, out Emitter) error
}

// MaxBatchBytes is the size at which sources end a batch even below their
// message count limit, so that the queue's memory stays bounded when
// messages are large (Event Hub messages reach 1 MB).
const MaxBatchBytes = 4 << 20

// BatchLen returns how many of the next n messages go into one batch: at
// most maxMessages, and no more once their sizes (size(i) for message i)
// reach MaxBatchBytes; always at least one.
func BatchLen(n, maxMessages int, size func(i int) int) int {
	total := 0
	for i := 0; i < n && i < maxMessages; i++ {
		total += size(i)
		if total >= MaxBatchBytes {
			return i + 1
		}
	}
	return min(n, maxMessages)
}
