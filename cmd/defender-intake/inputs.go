package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/defender-intake/defender-intake/internal/deadletter"
)

// openInput opens one input of a command: a file, or standard input for
// "-". display names it in messages; close releases it.
func openInput(name string, stdin io.Reader) (in io.Reader, display string, close func(), err error) {
	if name == "-" {
		return stdin, "stdin", func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, "", nil, err
	}
	return f, name, func() { f.Close() }, nil
}

// checkInputFiles refuses, before anything is read or created, an input
// that is not a file a command can read records from: a directory (the
// shell hands one over when a glob is forgotten) would otherwise fail half
// way through, after a store was created, or read as nothing at all.
func checkInputFiles(names []string) error {
	for _, name := range names {
		if name == "-" {
			continue
		}
		fi, err := os.Stat(name)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory: give the files in it (e.g. %s)", name, filepath.Join(name, "*.json"))
		}
	}
	return nil
}

// inputNames returns a command's input arguments, standard input when
// there are none.
func inputNames(args []string) []string {
	if len(args) == 0 {
		return []string{"-"}
	}
	return args
}

// rejects keeps input that could not be normalized, so that nothing read
// is lost silently: each is reported with its file, line and reason (on
// stderr when set) and, when path is set, appended with its raw bytes to
// that dead-letter NDJSON file (opened on first use).
//
// Entries are written in batches (one write and one fsync each), when
// rejectsBatchEntries or rejectsBatchBytes are pending and at flush or
// close: written one by one, each paid an fsync, so a file of short bad
// lines took about a millisecond a line (a megabyte of them, five minutes).
// A caller that records progress past some input (ingest's file records)
// flushes first, so that the dead letters of that input are durable.
type rejects struct {
	stderr io.Writer
	path   string
	dl     deadletter.Writer
	count  int
	// open opens the dead-letter file; nil is deadletter.OpenFile.
	open         func(path string) (deadletter.Writer, error)
	pending      []deadletter.Entry
	pendingBytes int
}

const (
	rejectsBatchEntries = 4096
	rejectsBatchBytes   = 4 << 20
)

func (r *rejects) add(ctx context.Context, file string, line int, stage, reason string, raw []byte) error {
	r.count++
	where := fmt.Sprintf("%s:%d: %s", file, line, reason)
	if r.stderr != nil {
		fmt.Fprintln(r.stderr, where)
	}
	if r.path == "" {
		return nil
	}
	r.pending = append(r.pending, deadletter.Entry{
		Time: time.Now(), Reason: where, Stage: stage,
		Source: "file", Type: "file", Stream: file, Offset: -1, SequenceNumber: -1,
		Raw: append([]byte(nil), raw...),
	})
	r.pendingBytes += len(raw) + len(where)
	if len(r.pending) >= rejectsBatchEntries || r.pendingBytes >= rejectsBatchBytes {
		return r.flush(ctx)
	}
	return nil
}

// flush writes the pending entries to the dead-letter file: when it
// returns nil they are durable.
func (r *rejects) flush(ctx context.Context) error {
	if len(r.pending) == 0 {
		return nil
	}
	if r.dl == nil {
		open := r.open
		if open == nil {
			open = func(path string) (deadletter.Writer, error) { return deadletter.OpenFile(path) }
		}
		dl, err := open(r.path)
		if err != nil {
			return fmt.Errorf("dead-letter: %w", err)
		}
		r.dl = dl
	}
	if err := r.dl.Write(ctx, r.pending); err != nil {
		return fmt.Errorf("dead-letter: %w", err)
	}
	clear(r.pending)
	r.pending = r.pending[:0]
	r.pendingBytes = 0
	return nil
}

// close writes the pending entries and closes the file.
func (r *rejects) close() error {
	err := r.flush(context.Background())
	if r.dl != nil {
		err = errors.Join(err, r.dl.Close())
		r.dl = nil
	}
	return err
}
