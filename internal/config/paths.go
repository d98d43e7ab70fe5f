package config

import (
	"fmt"
	"path/filepath"
)

// PathWriter is implemented by the sections of components that write files
// or directories of their own (a sink's output, a store, a dead-letter
// file, a checkpoint). WrittenPaths returns them, defaults included, for
// the component called name. Validate refuses two components that would
// write the same path: their data would interleave or overwrite each
// other.
type PathWriter interface {
	WrittenPaths(name string) []string
}

// writer is one path written and who writes it, for messages.
type writer struct {
	who string
	at  string // file:line
}

// samePaths reports every path written by two components (or twice by
// one), the service's own dead-letter file included.
func (c *Config) samePaths() []error {
	var errs []error
	seen := map[string]writer{}
	claim := func(path string, w writer) {
		key := filepath.Clean(path)
		if abs, err := filepath.Abs(path); err == nil {
			key = abs
		}
		if first, ok := seen[key]; ok {
			errs = append(errs, fmt.Errorf("%s: %s writes %s, as %s (%s) does: give each its own path", w.at, w.who, path, first.who, first.at))
			return
		}
		seen[key] = w
	}
	if c.DeadLetter.Path != "" {
		claim(c.DeadLetter.Path, writer{who: "dead_letter.path", at: c.at("dead_letter.path")})
	}
	for _, group := range []struct {
		kind string
		list []Component
	}{{"source", c.Sources}, {"sink", c.Sinks}} {
		for _, comp := range group.list {
			pw, ok := comp.Section.(PathWriter)
			if !ok {
				continue
			}
			for _, p := range pw.WrittenPaths(comp.Name) {
				if p != "" {
					claim(p, writer{who: fmt.Sprintf("%s %q (%s)", group.kind, comp.Name, comp.Type), at: fmt.Sprintf("%s:%d", c.File, comp.Line)})
				}
			}
		}
	}
	return errs
}
