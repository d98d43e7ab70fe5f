// Package deadletter writes input that could not become a document (a body
// that is not JSON, a record that is not an object) to an NDJSON file with
// its origin and the reason, so nothing read is lost and it can be replayed
// with the file source after a fix.
package deadletter

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/defender-intake/defender-intake/internal/ndjsonfile"
)

// Entry is one dead-lettered input.
type Entry struct {
	Time   time.Time
	Reason string
	// Stage is where it failed: "source", "envelope" or "normalize".
	Stage string
	// Origin of the message that held Raw.
	Source         string
	Type           string
	Stream         string
	Partition      string
	Offset         int64 // -1 when unknown
	SequenceNumber int64 // -1 when unknown
	EnqueuedTime   time.Time
	Raw            []byte
}

// line is the JSON layout of an entry. Raw is kept as text when it is valid
// UTF-8 (readable, replayable) and base64 otherwise.
type line struct {
	Time           time.Time  `json:"time"`
	Reason         string     `json:"reason"`
	Stage          string     `json:"stage"`
	Source         string     `json:"source"`
	Type           string     `json:"type"`
	Stream         string     `json:"stream,omitempty"`
	Partition      string     `json:"partition,omitempty"`
	Offset         *int64     `json:"offset,omitempty"`
	SequenceNumber *int64     `json:"sequence_number,omitempty"`
	EnqueuedTime   *time.Time `json:"enqueued_time,omitempty"`
	Raw            *string    `json:"raw,omitempty"`
	RawBase64      []byte     `json:"raw_base64,omitempty"`
}

// Marshal returns the NDJSON line of e, without the newline.
func Marshal(e Entry) ([]byte, error) {
	l := line{Time: e.Time.UTC(), Reason: e.Reason, Stage: e.Stage, Source: e.Source, Type: e.Type, Stream: e.Stream, Partition: e.Partition}
	if e.Offset >= 0 {
		l.Offset = &e.Offset
	}
	if e.SequenceNumber >= 0 {
		l.SequenceNumber = &e.SequenceNumber
	}
	if !e.EnqueuedTime.IsZero() {
		t := e.EnqueuedTime.UTC()
		l.EnqueuedTime = &t
	}
	if utf8.Valid(e.Raw) {
		s := string(e.Raw)
		l.Raw = &s
	} else {
		l.RawBase64 = e.Raw
	}
	return json.Marshal(l)
}

// Writer is where dead-letter entries go.
//
// Write returns nil only once every entry is durable (for a file: written
// and fsynced), because the pipeline then lets the source checkpoint past
// the input the entries came from. It is safe for concurrent use.
type Writer interface {
	Write(ctx context.Context, entries []Entry) error
	Close() error
}

// File appends entries to one NDJSON file.
type File struct {
	mu   sync.Mutex
	f    *os.File
	bw   *bufio.Writer
	path string
}

// OpenFile opens (creating it and its directory if needed) the dead-letter
// file at path for appending.
func OpenFile(path string) (*File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("dead-letter directory: %w", err)
	}
	d := &File{path: path}
	if err := d.open(); err != nil {
		return nil, err
	}
	return d, nil
}

// open opens the file for appending. A crash, or a failed write, in the
// middle of an entry leaves a torn last line. It is cut, as the file sink
// does, rather than ended with a newline: a torn entry is not JSON, so it
// would be one line no reader can use, and the entry was never
// acknowledged (Write returns after fsync), so its input is read and
// dead-lettered again.
func (d *File) open() error {
	f, _, cut, err := ndjsonfile.OpenAppend(d.path, 0o640)
	if err != nil {
		return fmt.Errorf("open dead-letter file: %w", err)
	}
	if cut > 0 {
		slog.Warn("dead-letter file: cut a torn last line", "path", d.path, "bytes", cut)
	}
	d.f = f
	if d.bw == nil {
		d.bw = bufio.NewWriter(f)
	} else {
		d.bw.Reset(f)
	}
	return nil
}

// drop closes the file after a failed write, so that the next Write opens
// it again: a bufio.Writer keeps its first error forever (one full disk
// made every later dead letter fail until a restart), and the failed
// write may have left part of an entry, which the open cuts.
func (d *File) drop() {
	d.f.Close()
	d.f = nil
}

// Write appends entries and fsyncs.
func (d *File) Write(_ context.Context, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		if err := d.open(); err != nil {
			return err
		}
	}
	// Encoded first: an entry that fails leaves none of the batch behind
	// in the buffer, to be written with the next one.
	lines := make([][]byte, 0, len(entries))
	for _, e := range entries {
		b, err := Marshal(e)
		if err != nil {
			return fmt.Errorf("encode dead-letter entry: %w", err)
		}
		lines = append(lines, b)
	}
	for _, b := range lines {
		d.bw.Write(b)
		d.bw.WriteByte('\n')
	}
	if err := d.bw.Flush(); err != nil {
		d.drop()
		return fmt.Errorf("write dead-letter file %s: %w", d.path, err)
	}
	if err := d.f.Sync(); err != nil {
		d.drop()
		return fmt.Errorf("sync dead-letter file %s: %w", d.path, err)
	}
	return nil
}

// Close closes the file.
func (d *File) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return nil
	}
	if err := d.bw.Flush(); err != nil {
		d.f.Close()
		return fmt.Errorf("flush dead-letter file: %w", err)
	}
	return d.f.Close()
}
