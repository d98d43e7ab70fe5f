package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// FileSink appends every alert change as one JSON line
// ({"change":"created","alert":{...}}) to a file: the simplest way to keep
// or ship alerts without the store. Each write is followed by fsync, so a
// nil error means the line is on disk.
type FileSink struct {
	mu sync.Mutex
	f  *os.File
}

// OpenFileSink opens (or creates) path for appending.
func OpenFileSink(path string) (*FileSink, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("alerts file: %w", err)
	}
	return &FileSink{f: f}, nil
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
	if _, err := s.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("alerts file: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("alerts file: %w", err)
	}
	return nil
}

// Close closes the file.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}
