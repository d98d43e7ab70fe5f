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
