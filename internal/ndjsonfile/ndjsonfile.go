// Package ndjsonfile opens the NDJSON files the service appends to (the
// file sink's output, the dead-letter file) so that a crash in the middle
// of a write never leaves them unreadable: a torn last line is cut at the
// next open.
package ndjsonfile

import (
	"bytes"
	"fmt"
	"os"
)

// OpenAppend opens (creating it with perm) the file at path for appending
// lines, after cutting a torn last line left by a crash (CutTornLine). It
// returns the file, its size once cut, and how many bytes were cut, for
// the caller to log.
//
// The file is opened for reading too: the last line has to be read to
// know whether it is complete.
func OpenAppend(path string, perm os.FileMode) (f *os.File, size, cut int64, err error) {
	f, err = os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, perm)
	if err != nil {
		return nil, 0, 0, err // "open PATH: reason"
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, 0, fmt.Errorf("stat %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		// A device or a pipe (/dev/stdout): nothing to cut.
		return f, 0, 0, nil
	}
	cut, err = CutTornLine(f, st.Size())
	if err != nil {
		f.Close()
		return nil, 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	return f, st.Size() - cut, cut, nil
}

// CutTornLine truncates f, of the given size, back to the end of its last
// complete line (the last '\n') and returns how many bytes it removed. A
// crash in the middle of a write leaves part of a line at the end; the
// writers here acknowledge a line only after fsync, so that line was never
// acknowledged and is written again, and cutting it keeps the file valid
// NDJSON for its readers instead of leaving one unparseable line in it (or
// gluing the next line to it).
func CutTornLine(f *os.File, size int64) (int64, error) {
	if size == 0 {
		return 0, nil
	}
	buf := make([]byte, 64<<10)
	end := size
	for end > 0 {
		n := min(int64(len(buf)), end)
		chunk := buf[:n]
		if _, err := f.ReadAt(chunk, end-n); err != nil {
			return 0, fmt.Errorf("read the last line: %w", err)
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			end = end - n + int64(i) + 1
			break
		}
		end -= n
	}
	if end == size {
		return 0, nil
	}
	if err := f.Truncate(end); err != nil {
		return 0, fmt.Errorf("cut the torn last line: %w", err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("cut the torn last line: fsync: %w", err)
	}
	return size - end, nil
}
