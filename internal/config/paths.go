package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
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

// PathReader is implemented by the sections of sources that read files
// (a file source). ReadPaths returns the files or glob patterns read by
// the component called name. Validate refuses a source that reads a path
// another component writes: it would read its own output, or the dead
// letters it writes, again and again.
type PathReader interface {
	ReadPaths(name string) []string
}

// canonical returns the absolute path of p with the symbolic links of its
// longest existing prefix resolved, so that "a", "./a", "/abs/a",
// "link-to-dir/a" and a link to a file not written yet compare equal.
func canonical(p string) string { return canonicalDepth(p, 0) }

func canonicalDepth(p string, depth int) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	var rest []string
	for dir := abs; ; {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(append([]string{real}, rest...)...)
		}
		// A link whose target does not exist yet (a file not written
		// yet) is followed by hand.
		if fi, err := os.Lstat(dir); err == nil && fi.Mode()&os.ModeSymlink != 0 && depth < 40 {
			if target, err := os.Readlink(dir); err == nil {
				if !filepath.IsAbs(target) {
					target = filepath.Join(filepath.Dir(dir), target)
				}
				return filepath.Join(append([]string{canonicalDepth(target, depth+1)}, rest...)...)
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return abs
		}
		rest = append([]string{filepath.Base(dir)}, rest...)
		dir = parent
	}
}

// canonicalPattern is canonical for a glob pattern: the directories before
// the first one holding a glob character are resolved.
func canonicalPattern(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	dir, rest := abs, ""
	for hasMeta(dir) {
		rest = filepath.Join(filepath.Base(dir), rest)
		dir = filepath.Dir(dir)
	}
	return filepath.Join(canonical(dir), rest)
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

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
		key := canonical(path)
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
	// A source must not read what is written: its own output, the dead
	// letters (replaying them is for another run, once they are fixed).
	written := make([]string, 0, len(seen))
	for key := range seen {
		written = append(written, key)
	}
	sort.Strings(written)
	for _, comp := range c.Sources {
		pr, ok := comp.Section.(PathReader)
		if !ok {
			continue
		}
		for _, pattern := range pr.ReadPaths(comp.Name) {
			cp := canonicalPattern(pattern)
			for _, key := range written {
				w := seen[key]
				if ok, _ := filepath.Match(cp, key); ok || cp == key {
					errs = append(errs, fmt.Errorf("%s:%d: source %q (%s) reads %s, which %s (%s) writes: it would read its own output again and again; give them different paths", c.File, comp.Line, comp.Name, comp.Type, pattern, w.who, w.at))
				}
			}
		}
	}
	return errs
}
