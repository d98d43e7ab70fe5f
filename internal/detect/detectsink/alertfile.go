package detectsink

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
	"github.com/defender-intake/defender-intake/internal/ndjsonfile"
)

// Line is one line of the alert file: an alert's full state after a
// change. The file is an append-only log of upserts: the last line of an
// id is the alert's current state.
type Line struct {
	Change string       `json:"change"`
	Alert  alerts.Alert `json:"alert"`
}

// alertFile is the optional NDJSON copy of the alerts behind the `file`
// key (an export or audit trail beside the store). Unlike
// alerts.FileSink, which fsyncs every change, it is given the changes of
// one batch of documents (an alert a noisy rule updates 5,000 times in a
// batch is one line with its final state, not 5,000 lines) and writes and
// fsyncs them at once, so that Sink.Write can acknowledge the batch only
// when its alerts are on disk.
type alertFile struct {
	path string
	f    *os.File
	mu   sync.Mutex // appends and compaction
	buf  []byte
	// size is the file's size; past limit (0: never) and compactAt the
	// file is compacted (see compact.go).
	size, limit, compactAt int64
}

func openAlertFile(path string, compactLimit int64) (*alertFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("alert file: %w", err)
	}
	// A crash in the middle of a write leaves a torn last line: it is
	// cut, so the file stays NDJSON for its readers (it is an export
	// too); the alert state it held was never acknowledged and is
	// written again whole.
	f, size, _, err := ndjsonfile.OpenAppend(path, 0o640)
	if err != nil {
		return nil, fmt.Errorf("alert file: %w", err)
	}
	return &alertFile{path: path, f: f, size: size, limit: compactLimit}, nil
}

// appendLines appends lines and fsyncs the file; on nil they are durable.
// On error the caller keeps them and calls again (a line written twice is
// harmless: the file is a log of upserts).
func (a *alertFile) appendLines(lines []Line) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(lines) == 0 {
		return nil
	}
	a.buf = a.buf[:0]
	for _, l := range lines {
		b, err := json.Marshal(l)
		if err != nil {
			return fmt.Errorf("alert file: encoding alert %s: %w", l.Alert.ID, err)
		}
		a.buf = append(append(a.buf, b...), '\n')
	}
	if a.f == nil { // reopening after a failed write or compaction
		f, size, _, err := ndjsonfile.OpenAppend(a.path, 0o640)
		if err != nil {
			return fmt.Errorf("alert file: %w", err)
		}
		a.f, a.size = f, size
	}
	// After a failed write the file is opened again at the next call,
	// which cuts what the failure left of a line: appending to it would
	// glue the next line onto it, and lose that line for every reader.
	if _, err := a.f.Write(a.buf); err != nil {
		a.f.Close()
		a.f = nil
		return fmt.Errorf("alert file %s: write: %w", a.path, err)
	}
	if err := a.f.Sync(); err != nil {
		a.f.Close()
		a.f = nil
		return fmt.Errorf("alert file %s: fsync: %w", a.path, err)
	}
	a.size += int64(len(a.buf))
	return nil
}

func (a *alertFile) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return nil
	}
	return a.f.Close()
}

// ReadAlerts returns the current state of every alert in the alert file
// at path (the last line of each id), skipping lines that do not parse (a
// torn line after a crash). Alerts last seen before since are left out.
func ReadAlerts(path string, since time.Time) ([]alerts.Alert, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("alert file: %w", err)
	}
	defer f.Close()
	return readAlerts(f, since)
}

func readAlerts(r io.Reader, since time.Time) ([]alerts.Alert, error) {
	byID := map[string]int{}
	var out []alerts.Alert
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var l Line
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Alert.ID == "" {
			continue
		}
		if i, ok := byID[l.Alert.ID]; ok {
			out[i] = l.Alert
			continue
		}
		byID[l.Alert.ID] = len(out)
		out = append(out, l.Alert)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("alert file: read: %w", err)
	}
	if !since.IsZero() {
		out = slices.DeleteFunc(out, func(a alerts.Alert) bool { return a.LastSeen.Before(since) })
	}
	return out, nil
}
