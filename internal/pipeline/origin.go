package pipeline

import (
	"time"

	"github.com/defender-intake/defender-intake/internal/normalize"
)

// Origin field names, set on every document. docs/collection.md documents
// them; the Events page and sinks may rely on them.
const (
	FieldIngested       = "event.ingested"
	FieldSource         = "defender_intake.origin.source"
	FieldType           = "defender_intake.origin.type"
	FieldStream         = "defender_intake.origin.stream"
	FieldPartition      = "defender_intake.origin.partition"
	FieldOffset         = "defender_intake.origin.offset"
	FieldSequenceNumber = "defender_intake.origin.sequence_number"
	FieldEnqueuedTime   = "defender_intake.origin.enqueued_time"
)

// OriginFields appends to dst the fields that record where a document came
// from and when it was ingested. Unknown values (offset -1, zero time) are
// left out rather than written as fake zeros.
func OriginFields(dst []normalize.Field, o Origin, ingested time.Time) []normalize.Field {
	dst = append(dst,
		normalize.Field{Path: FieldIngested, Value: ingested.UTC()},
		normalize.Field{Path: FieldSource, Value: o.Source},
		normalize.Field{Path: FieldType, Value: o.Type},
	)
	if o.Stream != "" {
		dst = append(dst, normalize.Field{Path: FieldStream, Value: o.Stream})
	}
	if o.Partition != "" {
		dst = append(dst, normalize.Field{Path: FieldPartition, Value: o.Partition})
	}
	if o.Offset >= 0 {
		dst = append(dst, normalize.Field{Path: FieldOffset, Value: o.Offset})
	}
	if o.SequenceNumber >= 0 {
		dst = append(dst, normalize.Field{Path: FieldSequenceNumber, Value: o.SequenceNumber})
	}
	if !o.EnqueuedTime.IsZero() {
		dst = append(dst, normalize.Field{Path: FieldEnqueuedTime, Value: o.EnqueuedTime.UTC()})
	}
	return dst
}

// originBoxes keeps the interface values of the origin fields that repeat
// from message to message (source, type, stream, partition, ingestion
// time), so that a worker boxes them once per batch instead of once per
// message: boxing a string or a time allocates.
type originBoxes struct {
	src, typ, stream, part     string
	srcV, typV, streamV, partV any
	ingested                   time.Time
	ingestedV                  any
}

func (c *originBoxes) str(cached *string, v *any, s string) any {
	if *v == nil || *cached != s {
		*cached, *v = s, s
	}
	return *v
}

// fields is OriginFields with the repeating values boxed once.
func (c *originBoxes) fields(dst []normalize.Field, o Origin, ingested time.Time) []normalize.Field {
	if c.ingestedV == nil || !c.ingested.Equal(ingested) {
		c.ingested, c.ingestedV = ingested, ingested.UTC()
	}
	dst = append(dst,
		normalize.Field{Path: FieldIngested, Value: c.ingestedV},
		normalize.Field{Path: FieldSource, Value: c.str(&c.src, &c.srcV, o.Source)},
		normalize.Field{Path: FieldType, Value: c.str(&c.typ, &c.typV, o.Type)},
	)
	if o.Stream != "" {
		dst = append(dst, normalize.Field{Path: FieldStream, Value: c.str(&c.stream, &c.streamV, o.Stream)})
	}
	if o.Partition != "" {
		dst = append(dst, normalize.Field{Path: FieldPartition, Value: c.str(&c.part, &c.partV, o.Partition)})
	}
	if o.Offset >= 0 {
		dst = append(dst, normalize.Field{Path: FieldOffset, Value: o.Offset})
	}
	if o.SequenceNumber >= 0 {
		dst = append(dst, normalize.Field{Path: FieldSequenceNumber, Value: o.SequenceNumber})
	}
	if !o.EnqueuedTime.IsZero() {
		dst = append(dst, normalize.Field{Path: FieldEnqueuedTime, Value: o.EnqueuedTime.UTC()})
	}
	return dst
}
