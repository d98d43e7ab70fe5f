// Package storesink makes the embedded event store a sink of the collection
// pipeline (`type: store` in the config), so `run` keeps the Events page
// filled.
package storesink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/store"
)

// Config is the `type: store` sink section.
type Config struct {
	// Dir is the data directory holding events.duckdb.
	Dir string `yaml:"dir"`
	// MaxAge deletes events older than this (Go duration, e.g. 720h).
	MaxAge time.Duration `yaml:"max_age"`
	// MaxSizeMB deletes the oldest events while the store is larger.
	MaxSizeMB int64 `yaml:"max_size_mb"`
}

// DefaultConfig holds the section's defaults, taken from the store's.
func DefaultConfig() *Config {
	d := store.DefaultConfig()
	return &Config{Dir: d.Dir, MaxAge: d.MaxAge, MaxSizeMB: d.MaxBytes >> 20}
}

func (c *Config) storeConfig() store.Config {
	sc := store.DefaultConfig()
	sc.Dir, sc.MaxAge, sc.MaxBytes = c.Dir, c.MaxAge, c.MaxSizeMB<<20
	return sc
}

// WrittenPaths implements config.PathWriter: two store sinks must not
// share a data directory (a detection sink's `store` may: its alerts go
// in their own table).
func (c *Config) WrittenPaths(string) []string { return []string{c.Dir} }

// Validate implements sink.Section.
func (c *Config) Validate() error { return c.storeConfig().Validate() }

func init() {
	sink.Register("store", sink.Factory{
		NewSection: func() sink.Section { return DefaultConfig() },
		OpenEnv: func(name string, s sink.Section, env sink.Env) (sink.Sink, error) {
			log := env.Logger
			if log == nil {
				log = slog.Default()
			}
			st, err := Acquire(context.Background(), s.(*Config).storeConfig(), log)
			if err != nil {
				return nil, err
			}
			return &Sink{name: name, st: st}, nil
		},
	})
}

// Sink adapts a *store.Store to sink.Sink.
//
// Acknowledgement: Write returns nil only once the store has committed every
// document (store.Write's promise). A document the store refuses (not a
// JSON object, which the normalizer never emits) is stored wrapped as
// {"event":{"dataset":"store.invalid_document"},"message":RAW} rather than
// failed, because the pipeline would retry it forever: nothing is lost and
// the feed never stalls.
//
// The store is shared with the other users of its directory in the
// process (see Acquire), which also runs its retention.
type Sink struct {
	name string
	st   *store.Store
	docs []store.Doc
}

// Store returns the underlying store, for serving the Events page from the
// same process.
func (s *Sink) Store() *store.Store { return s.st }

// Name implements sink.Sink.
func (s *Sink) Name() string { return s.name }

// Write implements sink.Sink.
func (s *Sink) Write(ctx context.Context, docs []sink.Doc) error {
	s.docs = s.docs[:0]
	for _, d := range docs {
		s.docs = append(s.docs, store.Doc{JSON: d.JSON, Timestamp: d.Timestamp})
	}
	err := s.st.Write(ctx, s.docs)
	var de *store.DocError
	if !errors.As(err, &de) {
		return err
	}
	wrapped := make([]store.Doc, 0, len(de.Failed))
	for _, i := range de.Failed {
		wrapped = append(wrapped, store.Doc{JSON: Wrap(docs[i].JSON), Timestamp: docs[i].Timestamp})
	}
	if err := s.st.Write(ctx, wrapped); err != nil {
		return &sink.PartialError{Failed: de.Failed, Err: fmt.Errorf("store: writing refused documents: %w", err)}
	}
	return nil
}

// Wrap turns bytes the store refused into a document that keeps them.
func Wrap(raw []byte) []byte {
	m, _ := json.Marshal(string(raw))
	return []byte(`{"event":{"dataset":"store.invalid_document","kind":"pipeline_error"},"message":` + string(m) + `}`)
}

// Close implements sink.Sink.
func (s *Sink) Close() error { return Release(s.st) }
