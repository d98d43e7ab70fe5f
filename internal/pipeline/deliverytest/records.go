// Package deliverytest is the delivery test suite that every source and
// sink passes: at-least-once delivery through the real binary, restart
// after SIGKILL with nothing lost and bounded duplicates, and partial sink
// failures that are retried while the source's position stays put and
// memory stays bounded (backpressure).
//
// A source or sink package describes itself with a SourceHarness or
// SinkHarness and calls RunSourceSuite or RunSinkSuite from a normal test.
package deliverytest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Records returns n raw Defender streaming records (DeviceProcessEvents)
// whose DeviceName is the record's id ("h-<run>-<i>"), which the
// normalizer carries to host.name, so each document can be traced back.
func Records(n int, run string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		id := fmt.Sprintf("h-%s-%07d", run, i)
		out[i] = fmt.Appendf(nil, `{"time":"2023-01-04T14:16:55.5041166Z","tenantId":"00000000-0000-0000-0000-000000000001","operationName":"Publish","category":"AdvancedHunting-DeviceProcessEvents","properties":{"Timestamp":"2023-01-04T14:16:55.5041166Z","DeviceName":%q,"DeviceId":"d%07d","FileName":"cmd.exe","FolderPath":"C:\\Windows\\System32\\cmd.exe","ProcessCommandLine":"cmd /c whoami","ActionType":"ProcessCreated","InitiatingProcessFileName":"explorer.exe","AccountName":"alice","ReportId":%d}}`, id, i, i)
	}
	return out
}

// IDs returns the expected ids of Records(n, run).
func IDs(n int, run string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("h-%s-%07d", run, i)
	}
	return out
}

// Envelope wraps records into one Event Hub style body {"records":[...]}.
func Envelope(records [][]byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"records":[`)
	for i, r := range records {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(r)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// ReadNDJSON returns the lines of the files matching pattern, sorted by
// name (rotated files included). A torn last line, left by a kill in the
// middle of a write, is ignored: it was never acknowledged.
func ReadNDJSON(t testing.TB, pattern string) [][]byte {
	t.Helper()
	for {
		// A file rotated between the glob and the read: read again.
		if out, err := readNDJSON(pattern); !errors.Is(err, fs.ErrNotExist) {
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
}

func readNDJSON(pattern string) ([][]byte, error) {
	files, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			if len(sc.Bytes()) > 0 {
				out = append(out, append([]byte(nil), sc.Bytes()...))
			}
		}
	}
	return out, nil
}

// Count maps each document's id (host.name) to how often it appears.
// Lines that are not JSON documents (a torn last line) are skipped.
func Count(docs [][]byte) map[string]int {
	seen := map[string]int{}
	for _, d := range docs {
		var doc struct {
			Host struct {
				Name string `json:"name"`
			} `json:"host"`
		}
		if json.Unmarshal(d, &doc) != nil || doc.Host.Name == "" {
			continue
		}
		seen[doc.Host.Name]++
	}
	return seen
}

// Check compares counts with the expected ids: it returns how many are
// missing (with a few examples) and how many extra copies there are.
func Check(counts map[string]int, want []string) (missing int, examples string, duplicates int) {
	var ex []string
	for _, id := range want {
		n := counts[id]
		if n == 0 {
			missing++
			if len(ex) < 5 {
				ex = append(ex, id)
			}
			continue
		}
		duplicates += n - 1
	}
	return missing, strings.Join(ex, ", "), duplicates
}
