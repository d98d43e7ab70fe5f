// Package normalize turns Microsoft Defender XDR streaming records into ECS
// documents that follow the reference intake's field conventions.
//
// It is pure: no I/O, no clocks except the one in Options, no knowledge of
// where records come from or where documents go.
package normalize

import (
	"errors"
	"time"
)

// Field is an extra field set on a document by the caller (for example the
// origin metadata added by the collection pipeline). Path is dotted ECS
// notation; Value is a string, bool, int64, float64, time.Time, []string or
// nil (nil removes the field).
type Field struct {
	Path  string
	Value any
}

// Meta describes the document produced by Append, so callers do not have to
// parse it again for routing or indexing.
type Meta struct {
	// Dataset is event.dataset ("device_process_events", ..., "unknown").
	Dataset string
	// Category is the record's category ("AdvancedHunting-DeviceProcessEvents"),
	// empty when the record had none.
	Category string
	// Timestamp is @timestamp.
	Timestamp time.Time
}

// Options configures a Normalizer.
type Options struct {
	// Now is the clock used for @timestamp when a record carries no usable
	// time. Defaults to time.Now.
	Now func() time.Time
}

// ErrNotObject is returned (wrapped) for input that is not a JSON object.
var ErrNotObject = errors.New("record is not a JSON object")

// Normalizer converts records into ECS documents. It reuses buffers between
// calls, so it is not safe for concurrent use: create one per goroutine.
type Normalizer struct {
	opts   Options
	parser jsonParser
	// stageParsers decode the JSON text held in properties
	// (AdditionalFields, LoggedOnUsers, RawEventData.Data,
	// AuthenticationDetails).
	stageParsers [4]jsonParser
	props        *propIndex
	doc          *document
	rec          record
	ua           *uaCache
	// domains remembers domains taken apart by the public suffix list.
	domains map[string]domainParts
}

// New returns a Normalizer.
func New(opts Options) *Normalizer {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Normalizer{
		opts:    opts,
		props:   newPropIndex(),
		doc:     newDocument(),
		ua:      newUACache(),
		domains: make(map[string]domainParts),
	}
}
