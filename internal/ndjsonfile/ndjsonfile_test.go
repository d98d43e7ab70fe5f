package ndjsonfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A crash can leave part of a line at the end of the file; OpenAppend cuts
// it back to the last complete line, whatever the file looks like.
func TestOpenAppendCutsTornLine(t *testing.T) {
	long := strings.Repeat("x", 200<<10) // longer than one backwards read
	tests := []struct {
		name, before, want string
	}{
		{"torn tail", "{\"a\":1}\n{\"torn\":", "{\"a\":1}\n"},
		{"only a torn line", "{\"torn\":", ""},
		{"one huge line without a newline", "{\"" + long + long, ""},
		{"torn tail longer than a read", "{\"a\":1}\n{\"" + long, "{\"a\":1}\n"},
		{"newline on a read boundary", "{\"" + long[:64<<10-3] + "\"}\n" + "{\"" + long[:64<<10], "{\"" + long[:64<<10-3] + "\"}\n"},
		{"ends with a carriage return", "{\"a\":1}\n{\"b\":2}\r", "{\"a\":1}\n"},
		{"CRLF lines are complete", "{\"a\":1}\r\n", "{\"a\":1}\r\n"},
		{"complete lines are kept", "{\"a\":1}\n{\"b\":2}\n", "{\"a\":1}\n{\"b\":2}\n"},
		{"empty file", "", ""},
		{"a lone newline", "\n", "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "out.ndjson")
			if err := os.WriteFile(p, []byte(tc.before), 0o600); err != nil {
				t.Fatal(err)
			}
			f, size, cut, err := OpenAppend(p, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if size != int64(len(tc.want)) || cut != int64(len(tc.before)-len(tc.want)) {
				t.Errorf("size, cut = %d, %d; want %d, %d", size, cut, len(tc.want), len(tc.before)-len(tc.want))
			}
			if _, err := f.WriteString("{\"next\":1}\n"); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(p)
			if string(b) != tc.want+"{\"next\":1}\n" {
				t.Errorf("file = %.80q, want %.80q", b, tc.want+"{\"next\":1}\n")
			}
		})
	}
}

// What cannot be opened is an error that names the path.
func TestOpenAppendErrors(t *testing.T) {
	dir := t.TempDir()
	ro := filepath.Join(dir, "read-only.ndjson")
	if err := os.WriteFile(ro, []byte("{}\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, path string }{
		{"a directory in place of the file", dir},
		{"no permission to write", ro},
		{"a parent that is a file", filepath.Join(ro, "x.ndjson")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if os.Geteuid() == 0 && tc.path == ro {
				t.Skip("root writes any file")
			}
			f, _, _, err := OpenAppend(tc.path, 0o600)
			if err == nil {
				f.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error %q does not name %s", err, tc.path)
			}
		})
	}
}
