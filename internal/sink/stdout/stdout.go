// Package stdout is the sink that prints ECS documents as NDJSON on the
// process's standard output, for piping into another tool.
package stdout

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/defender-intake/defender-intake/internal/sink"
)

// Config is the `type: stdout` sink section. It has no keys yet; it exists
// so that unknown keys are still reported.
type Config struct{}

// Validate implements sink.Section.
func (c *Config) Validate() error { return nil }

func init() {
	sink.Register("stdout", sink.Factory{
		NewSection: func() sink.Section { return &Config{} },
		Open: func(name string, _ sink.Section) (sink.Sink, error) {
			return New(name, os.Stdout), nil
		},
	})
}

// Sink writes NDJSON to a writer.
type Sink struct {
	name string
	w    io.Writer
	bw   *bufio.Writer
}

// New returns a sink writing to w.
func New(name string, w io.Writer) *Sink {
	return &Sink{name: name, w: w, bw: bufio.NewWriterSize(w, 64<<10)}
}

// Name implements sink.Sink.
func (s *Sink) Name() string { return s.name }

// Write prints docs and returns once they were handed to the writer (for a
// pipe: to the reading process). Durability beyond that is the reader's.
func (s *Sink) Write(_ context.Context, docs []sink.Doc) error {
	for _, d := range docs {
		s.bw.Write(d.JSON)
		s.bw.WriteByte('\n')
	}
	if err := s.bw.Flush(); err != nil {
		s.bw.Reset(s.w)
		return fmt.Errorf("stdout sink %s: %w", s.name, err)
	}
	return nil
}

// Close flushes.
func (s *Sink) Close() error { return s.bw.Flush() }
