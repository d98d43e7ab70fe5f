package detectsink

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// The alert file is a log of upserts, so it grows with every batch that
// changes an alert: a rule matching all day writes a line per batch. Past
// a size it is compacted: rewritten with the last line of each alert
// (the current states, all the file means), then replaced atomically.

// needsCompaction reports whether the file has grown past the point where
// compacting pays; limit 0 never compacts.
func (a *alertFile) needsCompaction() bool {
	return a.limit > 0 && a.size >= max(a.limit, a.compactAt)
}

// compact rewrites the file with one line per alert, in the order the
// alerts first appear. It holds the last line of each alert in memory,
// which is at most the file's size. On error the file is unchanged.
func (a *alertFile) compact() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	lines, order, err := lastLines(a.path)
	if err != nil {
		return err
	}
	tmp := a.path + ".compact"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("alert file: compact: %w", err)
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	var size int64
	for _, id := range order {
		bw.Write(lines[id])
		bw.WriteByte('\n')
		size += int64(len(lines[id])) + 1
	}
	if err := errors.Join(bw.Flush(), out.Sync(), out.Close()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("alert file: compact: %w", err)
	}
	if err := os.Rename(tmp, a.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("alert file: compact: %w", err)
	}
	if d, err := os.Open(filepath.Dir(a.path)); err == nil {
		d.Sync() // make the rename durable
		d.Close()
	}
	f, err := os.OpenFile(a.path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o640)
	if err != nil {
		// The old descriptor now points at the replaced file: writing
		// there would lose alerts, so fail the next Flush instead.
		a.f.Close()
		a.f = nil
		return fmt.Errorf("alert file: reopen after compaction: %w", err)
	}
	a.f.Close()
	a.f = f
	a.size = size
	// Compact again only once the file has doubled, so a file of many
	// distinct alerts is not rewritten at every batch.
	a.compactAt = 2 * size
	return nil
}

// lastLines returns the last well-formed line of each alert id in the
// file, and the ids in order of first appearance.
func lastLines(path string) (map[string][]byte, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("alert file: compact: %w", err)
	}
	defer f.Close()
	lines := map[string][]byte{}
	var order []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var l struct {
			Alert struct {
				ID string `json:"id"`
			} `json:"alert"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Alert.ID == "" {
			continue // a torn line
		}
		if _, ok := lines[l.Alert.ID]; !ok {
			order = append(order, l.Alert.ID)
		}
		lines[l.Alert.ID] = append(lines[l.Alert.ID][:0], sc.Bytes()...)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("alert file: compact: %w", err)
	}
	return lines, order, nil
}
