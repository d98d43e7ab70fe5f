// Package sink defines what the pipeline delivers documents to, and the
// registry through which sink types are made available to the config and
// to `defender-intake run`.
//
// Adding a sink type is implementing Sink in its own package and calling
// Register from that package's init with its config section.
package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Doc is one normalized ECS document.
type Doc struct {
	// JSON is the document, one JSON object without a trailing newline.
	// It is valid only during the Write call: copy it to keep it, and do
	// not modify it (other sinks read the same bytes at the same time).
	JSON []byte
	// Dataset is event.dataset ("device_process_events", ...), for
	// routing to tables or indices.
	Dataset string
	// Timestamp is the document's @timestamp.
	Timestamp time.Time
	// Raw is the streaming record the document was made from (the text of
	// its message field), when the producer has it at hand, so that a
	// sink needing it does not parse the document back; nil otherwise.
	// Like JSON, it is valid only during the Write call and read-only.
	Raw []byte
}

// Sink stores or forwards documents.
//
// The acknowledgement contract: when Write returns nil, every document of
// docs is durable at the destination (fsynced, committed, or acknowledged
// by the remote end), and the pipeline may let sources checkpoint past
// them. When some documents failed, Write returns a *PartialError listing
// exactly those; the others are durable. Any other error means none of
// them may be considered durable. The pipeline retries failed documents
// with backoff, so a sink must tolerate seeing a document again
// (at-least-once). Write is never called concurrently on one Sink.
type Sink interface {
	// Name is the configured sink name, used in logs and metrics.
	Name() string
	Write(ctx context.Context, docs []Doc) error
	// Close flushes and releases resources. It is called once, after the
	// last Write.
	Close() error
}

// ErrTargetUnavailable is matched (errors.Is) by a Write error that says
// the target refuses requests as a whole (wrong credentials, permissions
// or URL) rather than some of the documents: they are kept for a retry,
// and nothing about them is wrong.
var ErrTargetUnavailable = errors.New("target refuses the sink's requests")

// Availability is implemented by sinks that know when their target
// refuses every request. Unavailable returns why (matching
// ErrTargetUnavailable) while it does, nil once it answers again; the
// service's /readyz fails meanwhile. It is safe for concurrent use, also
// with Write.
type Availability interface {
	Unavailable() error
}

// PartialError reports the documents of one Write that were not accepted.
type PartialError struct {
	// Failed holds indices into the docs slice given to Write, ascending.
	Failed []int
	// Err is the cause (the first one when several).
	Err error
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%d documents not accepted: %v", len(e.Failed), e.Err)
}

func (e *PartialError) Unwrap() error { return e.Err }

// FailedIndices returns the indices of docs that err says were not
// accepted: all of them for a plain error, none for nil.
func FailedIndices(err error, n int) []int {
	if err == nil {
		return nil
	}
	var pe *PartialError
	if errors.As(err, &pe) {
		return pe.Failed
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	return all
}

// Section is the config section of one sink type. It is decoded strictly
// from YAML (field tags `yaml:"..."`), and Validate must not change it.
type Section interface {
	Validate() error
}

// Env is what a sink gets from the service besides its section.
type Env struct {
	Logger *slog.Logger
	// Registerer is the service's Prometheus registry: metrics a sink
	// registers there are served on the service's /metrics.
	Registerer prometheus.Registerer
}

// Factory makes sinks of one type.
type Factory struct {
	// NewSection returns a section holding the type's defaults; YAML is
	// decoded over it.
	NewSection func() Section
	// Open builds a sink from a validated section.
	Open func(name string, s Section) (Sink, error)
	// OpenEnv, when set, is used instead of Open, for sinks that log or
	// export metrics through the service.
	OpenEnv func(name string, s Section, env Env) (Sink, error)
}

// OpenSink builds a sink with f, through OpenEnv when it is set.
func (f Factory) OpenSink(name string, s Section, env Env) (Sink, error) {
	if f.OpenEnv != nil {
		return f.OpenEnv(name, s, env)
	}
	return f.Open(name, s)
}

var factories = map[string]Factory{}

// Register makes a sink type available. It panics on a duplicate, which is
// a programming error.
func Register(typ string, f Factory) {
	if _, dup := factories[typ]; dup {
		panic("sink: type registered twice: " + typ)
	}
	factories[typ] = f
}

// Lookup returns the factory of typ.
func Lookup(typ string) (Factory, bool) {
	f, ok := factories[typ]
	return f, ok
}

// Types lists the registered sink types, sorted, for error messages.
func Types() string {
	names := make([]string, 0, len(factories))
	for n := range factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
