package main

import (
	"context"
	"fmt"
	"io"
	"os"
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
type rejects struct {
	stderr io.Writer
	path   string
	dl     *deadletter.File
	count  int
}

func (r *rejects) add(ctx context.Context, file string, line int, stage, reason string, raw []byte) error {
	r.count++
	where := fmt.Sprintf("%s:%d: %s", file, line, reason)
	if r.stderr != nil {
		fmt.Fprintln(r.stderr, where)
	}
	if r.path == "" {
		return nil
	}
	if r.dl == nil {
		f, err := deadletter.OpenFile(r.path)
		if err != nil {
			return fmt.Errorf("dead-letter: %w", err)
		}
		r.dl = f
	}
	err := r.dl.Write(ctx, []deadletter.Entry{{
		Time: time.Now(), Reason: where, Stage: stage,
		Source: "file", Type: "file", Stream: file, Offset: -1, SequenceNumber: -1,
		Raw: append([]byte(nil), raw...),
	}})
	if err != nil {
		return fmt.Errorf("dead-letter: %w", err)
	}
	return nil
}

func (r *rejects) close() {
	if r.dl != nil {
		r.dl.Close()
	}
}
