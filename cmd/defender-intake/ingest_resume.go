package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/defender-intake/defender-intake/internal/store"
)

// headBytes is how much of the head of a file identifies it: a file that
// only grew keeps it, a copy has it too.
const headBytes = 64 << 10

// fileLoad follows the load of one file the store keeps a record of. A
// nil *fileLoad (standard input, a pipe, an empty file) keeps no record.
type fileLoad struct {
	f    *os.File
	base store.LoadedFile // the record before this run, identity set
	size int64            // at the start of this run

	storedRun, rejectedRun int64
	// lastLine is the line of the last input and onLastLine how many
	// inputs start on it: when the file does not end with a newline they
	// are not counted as done (see done).
	lastLine   int
	onLastLine int64
}

// plan finds what the store has of the file and says whether (and from
// where) to load it, with a message for what it decided.
func (j *ingestJob) plan(f *os.File, name string) (lf *fileLoad, load bool, err error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	if !fi.Mode().IsRegular() || fi.Size() == 0 {
		return nil, true, nil
	}
	files, err := j.st.LoadedFiles()
	if err != nil {
		return nil, false, err
	}
	hashes := map[int64]string{}
	var prev *store.LoadedFile
	for i, e := range files {
		if e.HeadBytes <= 0 || e.HeadBytes > fi.Size() || (prev != nil && e.HeadBytes <= prev.HeadBytes) {
			continue
		}
		h, ok := hashes[e.HeadBytes]
		if !ok {
			if h, err = headHash(f, e.HeadBytes); err != nil {
				return nil, false, fmt.Errorf("%s: %w", name, err)
			}
			hashes[e.HeadBytes] = h
		}
		if h == e.HeadSHA256 {
			prev = &files[i]
		}
	}
	lf = &fileLoad{f: f, size: fi.Size()}
	if prev != nil {
		lf.base = *prev
	} else {
		lf.base.HeadBytes = min(fi.Size(), headBytes)
		if lf.base.HeadSHA256, err = headHash(f, lf.base.HeadBytes); err != nil {
			return nil, false, fmt.Errorf("%s: %w", name, err)
		}
	}
	lf.base.Path = name
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		lf.base.Device, lf.base.Inode = uint64(st.Dev), st.Ino
	}
	// --force loads again what earlier runs loaded, not a file this run
	// loaded already under another name (x and ./x, a link, a copy).
	thisRun := lf.base.HeadSHA256 + "/" + strconv.FormatInt(lf.base.HeadBytes, 10)
	if j.loadedNow == nil {
		j.loadedNow = map[string]bool{}
	}
	force := j.force && !j.loadedNow[thisRun]
	j.loadedNow[thisRun] = true
	switch {
	case prev == nil:
		return lf, true, nil
	case force:
		fmt.Fprintf(j.stdout, "%s: loaded before (%d documents); --force: loading it all again\n", name, prev.Stored)
		lf.base.Inputs, lf.base.Stored, lf.base.Rejected = 0, 0, 0
		return lf, true, nil
	case fi.Size() < prev.Size:
		return nil, false, fmt.Errorf("%s: has the head of a file loaded before (%s) but is smaller (%d bytes, %d then): it changed; --force loads it as it is now", name, prev.Path, fi.Size(), prev.Size)
	}
	// The head matched; what was read of the file then must match too, or
	// the inputs skipped below would be other records than those loaded.
	if prev.ReadSHA256 != "" {
		h, err := headHash(f, prev.Offset)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", name, err)
		}
		if h != prev.ReadSHA256 {
			return nil, false, fmt.Errorf("%s: starts as a file loaded before (%s) but its first %d bytes are not those loaded then: it changed, and skipping the %d inputs loaded from it would skip other records; --force loads it all as it is now", name, prev.Path, prev.Offset, prev.Inputs)
		}
	}
	switch {
	case prev.Complete && fi.Size() == prev.Size:
		fmt.Fprintf(j.stdout, "%s: already ingested on %s (%d documents stored, %d inputs rejected, as %s): 0 documents added; --force loads it again\n",
			name, prev.Updated.UTC().Format(time.RFC3339), prev.Stored, prev.Rejected, prev.Path)
		j.already++
		return nil, false, nil
	case prev.Complete:
		fmt.Fprintf(j.stdout, "%s: loaded before up to byte %d, now %d bytes: loading what was appended (after %d inputs)\n", name, prev.Size, fi.Size(), prev.Inputs)
	default:
		fmt.Fprintf(j.stdout, "%s: resuming an interrupted load after %d inputs (%d documents stored)\n", name, prev.Inputs, prev.Stored)
	}
	return lf, true, nil
}

func headHash(f *os.File, n int64) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, n)); err != nil {
		return "", fmt.Errorf("read the head: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// input is called for the n-th input of the file (1-based), which starts
// on line; it reports whether an earlier run loaded it already.
func (lf *fileLoad) input(n int64, line int) (skip bool) {
	if lf == nil {
		return false
	}
	if line != lf.lastLine {
		lf.lastLine, lf.onLastLine = line, 0
	}
	lf.onLastLine++
	return n <= lf.base.Inputs
}

func (lf *fileLoad) stored() {
	if lf != nil {
		lf.storedRun++
	}
}

func (lf *fileLoad) rejected() {
	if lf != nil {
		lf.rejectedRun++
	}
}

// mark is the record to save once the first inputs of the file, and the
// documents from them, are durable.
func (lf *fileLoad) mark(inputs int64, read *countingReader, complete bool) *store.LoadedFile {
	if lf == nil {
		return nil
	}
	r := lf.base
	offset := read.read
	r.Inputs, r.Offset, r.Size, r.Complete = inputs, offset, max(lf.size, offset), complete
	r.ReadSHA256 = read.sum()
	r.Stored += lf.storedRun
	r.Rejected += lf.rejectedRun
	r.Updated = time.Now().UTC()
	return &r
}

// done is the record of a file read to its end (offset bytes). When the
// file does not end with a newline, its last line may be one a writer has
// not finished: the inputs that start on it are not counted as done, so
// that if the file grows they are read again, complete, rather than
// skipped (they were loaded or dead-lettered this time all the same).
func (lf *fileLoad) done(inputs int64, read *countingReader) *store.LoadedFile {
	if lf == nil {
		return nil
	}
	offset := read.read
	last := []byte{'\n'}
	if offset > 0 {
		if _, err := lf.f.ReadAt(last, offset-1); err != nil {
			last[0] = 0
		}
	}
	if last[0] != '\n' && inputs > lf.base.Inputs {
		inputs = max(lf.base.Inputs, inputs-lf.onLastLine)
	}
	return lf.mark(inputs, read, true)
}
