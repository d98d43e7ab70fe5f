// Package source is the registry of source types: each source package
// registers its config section and constructor here from its init, so the
// config loader and `defender-intake run` know every type without a switch.
package source

import (
	"log/slog"
	"net/http"
	"sort"
	"strings"

	"github.com/defender-intake/defender-intake/internal/metrics"
	"github.com/defender-intake/defender-intake/internal/pipeline"
)

// Section is the config section of one source type, decoded strictly from
// YAML (field tags `yaml:"..."`). Validate must not change it.
type Section interface {
	Validate() error
}

// Env is what a source gets from the service besides its section.
type Env struct {
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// Mux is the service's HTTP mux (/metrics, /healthz, ...), for sources
	// that receive over HTTP on the service's listener. May be nil.
	Mux *http.ServeMux
}

// Factory makes sources of one type.
type Factory struct {
	// NewSection returns a section holding the type's defaults; YAML is
	// decoded over it.
	NewSection func() Section
	// Open builds a source from a validated section. It must not start
	// reading: that happens in Run.
	Open func(name string, s Section, env Env) (pipeline.Source, error)
}

var factories = map[string]Factory{}

// Register makes a source type available; it panics on a duplicate.
func Register(typ string, f Factory) {
	if _, dup := factories[typ]; dup {
		panic("source: type registered twice: " + typ)
	}
	factories[typ] = f
}

// Lookup returns the factory of typ.
func Lookup(typ string) (Factory, bool) {
	f, ok := factories[typ]
	return f, ok
}

// Types lists the registered source types, sorted, for error messages.
func Types() string {
	names := make([]string, 0, len(factories))
	for n := range factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
