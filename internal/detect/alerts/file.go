package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"github.com/defender-intake/defender-intake/internal/ndjsonfile"
)

// FileSink appends every alert change as one JSON line
// ({"change":"created","alert":{...}}) to a file: the simplest way to keep
// or ship alerts without the store. Each write is followed by fsync, so a
// nil error means the line is on disk.
type FileSink struct {
	mu   sync.Mutex
	f    *os.File // nil after a failed write: opened again at the next
	path string
}

// OpenFileSink opens (or creates) path for appending. A crash in the
// middle of a write leaves a torn last line: it is cut, so the file stays
// NDJSON (that change was not acknowledged and is written again).
func OpenFileSink(path string) (*FileSink, error) {
	s := &FileSink{path: path}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *FileSink) open() error {
	f, _, _, err := ndjsonfile.OpenAppend(s.path, 0o600)
	if err != nil {
		return fmt.Errorf("alerts file: %w", err)
	}
	s.f = f
	return nil
}

// WriteAlert implements AlertSink.
func (s *FileSink) WriteAlert(_ context.Context, a Alert, change Change) error {
	line, err := json.Marshal(struct {
		Change string `json:"change"`
		Alert  Alert  `json:"alert"`
	}{change.String(), a})
	if err != nil {
		return fmt.Errorf("alerts file: encoding alert %s: %w", a.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	// A failed write may leave part of the line: the file is opened again
	// at the next write, which cuts it, rather than the next line being
	// glued to it.
	if _, err := s.f.Write(append(line, '\n')); err != nil {
		s.f.Close()
		s.f = nil
		return fmt.Errorf("alerts file: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		s.f.Close()
		s.f = nil
		return fmt.Errorf("alerts file: %w", err)
	}
	return nil
}

// Close closes the file.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
