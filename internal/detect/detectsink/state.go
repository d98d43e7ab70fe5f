package detectsink

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/defender-intake/defender-intake/internal/detect/sigma"
)

// saveState writes the correlation windows to path atomically (temporary
// file, fsync, rename), so a crash during the save leaves the previous
// state rather than half a file.
func saveState(path string, st sigma.CorrelatorState) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("correlation state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("correlation state: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("correlation state: %w", err)
	}
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("correlation state %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("correlation state: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync() // make the rename durable
		d.Close()
	}
	return nil
}

// loadState reads saved correlation windows; a missing file is an empty
// state (first start).
func loadState(path string) (sigma.CorrelatorState, error) {
	var st sigma.CorrelatorState
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("correlation state: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("correlation state %s: %w", path, err)
	}
	return st, nil
}
