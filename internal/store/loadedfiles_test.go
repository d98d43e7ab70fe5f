package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The record of loaded files survives a reopen, and an entry is replaced
// by the one with the same head, not added beside it.
func TestLoadedFilesRecord(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), Config{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	steps := []LoadedFile{
		{Path: "a", HeadSHA256: "h1", HeadBytes: 10, Inputs: 5},
		{Path: "b", HeadSHA256: "h2", HeadBytes: 10, Inputs: 7},
		{Path: "a-again", HeadSHA256: "h1", HeadBytes: 10, Inputs: 9, Complete: true},
		{Path: "a-prefix", HeadSHA256: "h1", HeadBytes: 4, Inputs: 1},
	}
	for _, f := range steps {
		if err := s.SaveLoadedFile(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, LoadedFilesName+".tmp")); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
	s, err = Open(context.Background(), Config{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	files, err := s.LoadedFiles()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a-again/9/true", "b/7/false", "a-prefix/1/false"}
	if len(files) != len(want) {
		t.Fatalf("%d entries: %+v", len(files), files)
	}
	for i, f := range files {
		if got := fmt.Sprintf("%s/%d/%t", f.Path, f.Inputs, f.Complete); got != want[i] {
			t.Errorf("entry %d = %s, want %s", i, got, want[i])
		}
	}
}

// A record damaged by hand is an error that names the file and the way
// out, for reading and for saving (which must not overwrite it).
func TestLoadedFilesDamaged(t *testing.T) {
	for _, content := range []string{"garbage{", `{"path":"a"}`, `[{"path":`, "\xff\xfe"} {
		dir := t.TempDir()
		s, err := Open(context.Background(), Config{Dir: dir}, nil)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, LoadedFilesName)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, rerr := s.LoadedFiles()
		serr := s.SaveLoadedFile(LoadedFile{Path: "x", HeadSHA256: "h", HeadBytes: 1})
		for _, err := range []error{rerr, serr} {
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "move it away") {
				t.Errorf("%q: error %v does not name %s and the way out", content, err, path)
			}
		}
		if b, _ := os.ReadFile(path); string(b) != content {
			t.Errorf("%q: the damaged record was overwritten", content)
		}
		s.Close()
	}
}
