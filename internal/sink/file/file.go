// Package file is the sink that appends ECS documents as NDJSON to a file,
// rotating it by size. A write is acknowledged only after fsync, so a crash
// right after loses nothing the source was told was delivered.
package file

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/defender-intake/defender-intake/internal/ndjsonfile"
	"github.com/defender-intake/defender-intake/internal/sink"
)

// Config is the `type: file` sink section.
type Config struct {
	// Path of the current file; rotated files sit beside it as
	// NAME-YYYYMMDDTHHMMSS.sssZ.EXT.
	Path string `yaml:"path"`
	// MaxSizeMB rotates the file once it reaches this size; 0 never rotates.
	MaxSizeMB int `yaml:"max_size_mb"`
	// MaxFiles keeps at most this many rotated files (oldest deleted);
	// 0 keeps them all.
	MaxFiles int `yaml:"max_files"`
}

// DefaultConfig holds the defaults of the section.
func DefaultConfig() *Config { return &Config{MaxSizeMB: 100, MaxFiles: 10} }

// Validate implements sink.Section.
func (c *Config) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("path: required"))
	}
	if c.MaxSizeMB < 0 {
		errs = append(errs, errors.New("max_size_mb: must be >= 0"))
	}
	if c.MaxFiles < 0 {
		errs = append(errs, errors.New("max_files: must be >= 0"))
	}
	return errors.Join(errs...)
}

// WrittenPaths implements config.PathWriter: two sinks must not append
// to the same file.
func (c *Config) WrittenPaths(string) []string { return []string{c.Path} }

func init() {
	sink.Register("file", sink.Factory{
		NewSection: func() sink.Section { return DefaultConfig() },
		Open: func(name string, s sink.Section) (sink.Sink, error) {
			return Open(name, *s.(*Config))
		},
	})
}

// Sink writes NDJSON to a rotating file.
type Sink struct {
	name string
	cfg  Config
	f    *os.File
	bw   *bufio.Writer
	size int64
	now  func() time.Time
}

// Open opens (creating it and its directory) the file for appending.
func Open(name string, cfg Config) (*Sink, error) {
	s := &Sink{name: name, cfg: cfg, now: time.Now}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o750); err != nil {
		return nil, fmt.Errorf("file sink %s: %w", name, err)
	}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sink) open() error {
	// A crash in the middle of a write leaves a torn last line: it is cut,
	// so the file stays valid NDJSON (the document was not acknowledged
	// and is written again).
	f, size, cut, err := ndjsonfile.OpenAppend(s.cfg.Path, 0o640)
	if err != nil {
		return fmt.Errorf("file sink %s: %w", s.name, err)
	}
	if cut > 0 {
		slog.Warn("file sink: cut a torn last line left by a crash", "sink", s.name, "path", s.cfg.Path, "bytes", cut)
	}
	s.f, s.size = f, size
	if s.bw == nil {
		s.bw = bufio.NewWriterSize(f, 256<<10)
	} else {
		s.bw.Reset(f)
	}
	return nil
}

// Name implements sink.Sink.
func (s *Sink) Name() string { return s.name }

// Write appends docs, one per line, and fsyncs before returning nil. On a
// failure nothing is reported durable; a retry may duplicate lines that
// did reach the disk, which at-least-once allows.
func (s *Sink) Write(_ context.Context, docs []sink.Doc) error {
	if s.f == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	for _, d := range docs {
		s.bw.Write(d.JSON)
		s.bw.WriteByte('\n')
		s.size += int64(len(d.JSON)) + 1
	}
	if err := s.bw.Flush(); err != nil {
		return s.fail(fmt.Errorf("file sink %s: write: %w", s.name, err))
	}
	if err := s.f.Sync(); err != nil {
		return s.fail(fmt.Errorf("file sink %s: fsync: %w", s.name, err))
	}
	if s.cfg.MaxSizeMB > 0 && s.size >= int64(s.cfg.MaxSizeMB)<<20 {
		if err := s.rotate(); err != nil {
			// The documents are durable; rotation is retried on the
			// next write.
			return nil
		}
	}
	return nil
}

// fail drops the file so the next Write reopens it: a bufio.Writer keeps
// its first error forever.
func (s *Sink) fail(err error) error {
	s.f.Close()
	s.f = nil
	return err
}

func (s *Sink) rotate() error {
	if err := s.f.Close(); err != nil {
		s.f = nil
		return err
	}
	s.f = nil
	ext := filepath.Ext(s.cfg.Path)
	base := strings.TrimSuffix(s.cfg.Path, ext)
	rotated := base + "-" + s.now().UTC().Format(rotatedStamp) + ext
	if err := os.Rename(s.cfg.Path, rotated); err != nil {
		return fmt.Errorf("file sink %s: rotate: %w", s.name, err)
	}
	if err := s.open(); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(s.cfg.Path)); err == nil {
		d.Sync() // make the rename durable
		d.Close()
	}
	return s.prune(base, ext)
}

// rotatedStamp is the time in the names of rotated files; it sorts
// chronologically.
const rotatedStamp = "20060102T150405.000000000Z"

// prune deletes the oldest rotated files beyond MaxFiles. Only this sink's
// rotated files count: NAME-*.EXT also matches the files of another sink
// (ecs-high.ndjson beside ecs.ndjson) or of the user, which are neither
// counted nor deleted.
func (s *Sink) prune(base, ext string) error {
	if s.cfg.MaxFiles == 0 {
		return nil
	}
	candidates, err := filepath.Glob(globEscape(base) + "-*" + globEscape(ext))
	if err != nil {
		return err
	}
	var matches []string
	for _, m := range candidates {
		stamp := strings.TrimSuffix(strings.TrimPrefix(m, base+"-"), ext)
		if _, err := time.Parse(rotatedStamp, stamp); err == nil && len(stamp) == len(rotatedStamp) {
			matches = append(matches, m)
		}
	}
	sort.Strings(matches)
	for len(matches) > s.cfg.MaxFiles {
		if err := os.Remove(matches[0]); err != nil {
			return fmt.Errorf("file sink %s: prune: %w", s.name, err)
		}
		matches = matches[1:]
	}
	return nil
}

func globEscape(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(s)
}

// Close flushes, fsyncs and closes the file.
func (s *Sink) Close() error {
	if s.f == nil {
		return nil
	}
	err := errors.Join(s.bw.Flush(), s.f.Sync(), s.f.Close())
	s.f = nil
	if err != nil {
		return fmt.Errorf("file sink %s: close: %w", s.name, err)
	}
	return nil
}
