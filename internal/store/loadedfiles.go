package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// The store keeps a record of the files `ingest` loaded into it, beside
// the database, so that loading a file again adds nothing, a file that
// grew adds only what is new, and an interrupted load resumes where it
// stopped. (Not to be confused with the ingest log, ingestlog.go, which
// holds written events until DuckDB has them.)

// LoadedFilesName is the record's file in the data directory.
const LoadedFilesName = "loaded-files.json"

// LoadedFile is what the store remembers of one input file.
type LoadedFile struct {
	// Path is the name the file was given under, for messages only:
	// a file is recognized by its content, wherever it is.
	Path string `json:"path"`
	// Device and Inode identify the file on its file system, for
	// messages: a copy has other ones and is still the same content.
	Device uint64 `json:"device"`
	Inode  uint64 `json:"inode"`
	// HeadSHA256 is the SHA-256 of the first HeadBytes bytes of the file,
	// which identifies it: a file that only grew keeps them.
	HeadSHA256 string `json:"head_sha256"`
	HeadBytes  int64  `json:"head_bytes"`
	// Inputs is how many inputs (records and rejected inputs, in file
	// order) have been dealt with: every record among them is durable
	// in the store and every rejected one in the dead-letter file. A
	// resumed load skips them.
	Inputs int64 `json:"inputs"`
	// Offset is how far the file had been read when Inputs was reached
	// (the reader reads ahead, so up to a buffer past the last of them;
	// the resume position is Inputs), and Size the file's size then.
	// Once Complete, Offset is the size that was read to its end.
	Offset int64 `json:"offset"`
	Size   int64 `json:"size"`
	// ReadSHA256 is the SHA-256 of the first Offset bytes as they were
	// read. A file with the same head can still differ after it (a file
	// rewritten with other records, another export that starts the same
	// way): the inputs a load skips are only those of a file whose first
	// Offset bytes are still these.
	ReadSHA256 string `json:"read_sha256,omitempty"`
	// Complete is set when the file was read to its end.
	Complete bool `json:"complete"`
	// Stored and Rejected count the documents stored and inputs rejected
	// from the file, over all its loads.
	Stored   int64     `json:"stored"`
	Rejected int64     `json:"rejected"`
	Updated  time.Time `json:"updated"`
}

// LoadedFiles returns the record of files loaded into the store.
func (s *Store) LoadedFiles() ([]LoadedFile, error) {
	s.loadedMu.Lock()
	defer s.loadedMu.Unlock()
	return s.readLoadedFiles()
}

func (s *Store) readLoadedFiles() ([]LoadedFile, error) {
	b, err := os.ReadFile(filepath.Join(s.cfg.Dir, LoadedFilesName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: read the record of loaded files: %w", err)
	}
	var files []LoadedFile
	if err := json.Unmarshal(b, &files); err != nil {
		// Written only whole (a temporary file renamed), so this is a file
		// edited or damaged by hand: say which, and the way out.
		return nil, fmt.Errorf("store: %s is not a record of loaded files (%v): repair it, or move it away to have every file loaded as new", filepath.Join(s.cfg.Dir, LoadedFilesName), err)
	}
	return files, nil
}

// SaveLoadedFile records f, replacing the entry of the same content (same
// HeadBytes and HeadSHA256). The record is replaced atomically and is
// durable when SaveLoadedFile returns: call it only once what f says is
// loaded is durable (after Write returned).
func (s *Store) SaveLoadedFile(f LoadedFile) error {
	s.loadedMu.Lock()
	defer s.loadedMu.Unlock()
	files, err := s.readLoadedFiles()
	if err != nil {
		return err
	}
	replaced := false
	for i := range files {
		if files[i].HeadBytes == f.HeadBytes && files[i].HeadSHA256 == f.HeadSHA256 {
			files[i], replaced = f, true
			break
		}
	}
	if !replaced {
		files = append(files, f)
	}
	b, err := json.MarshalIndent(files, "", "  ")
	if err != nil {
		return fmt.Errorf("store: record a loaded file: %w", err)
	}
	path := filepath.Join(s.cfg.Dir, LoadedFilesName)
	tmp := path + ".tmp"
	if err := writeFileSync(tmp, b); err != nil {
		return fmt.Errorf("store: record a loaded file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("store: record a loaded file: %w", err)
	}
	return syncDir(s.cfg.Dir)
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	return errors.Join(werr, serr, cerr)
}
