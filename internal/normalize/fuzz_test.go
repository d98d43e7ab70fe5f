package normalize

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzNormalize checks, for any input, that the normalizer does not panic,
// that it fails only for input that is not a JSON object, and that every
// document it writes is valid UTF-8 JSON with a @timestamp and a dataset.
// It is seeded with the golden records.
func FuzzNormalize(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	for _, file := range files {
		if strings.HasSuffix(file, ".ecs.json") {
			continue
		}
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"category":"AdvancedHunting-DeviceProcessEvents","properties":{"AdditionalFields":"{\"InitiatingProcessPosixSessionId\":0}","ProcessCommandLine":"a  b"}}`))
	f.Add([]byte(`{"category":"AdvancedHunting-CloudAppEvents","properties":{"RawEventData":{"OperationProperties":[{"Name":"a","Value":"{\"x\":1}"}],"Data":"{\"Entities\":[{\"Files\":[{\"Name\":\"n\",\"FileHashes\":[{\"Algorithm\":\"SHA256\",\"Value\":\"v\"}]}]}]}"}}}`))
	f.Add([]byte(`{"properties":{"Timestamp":"[1,{2:3}]","RemoteUrl":"uri=http://x","LoggedOnUsers":"[{'UserName':'\\x41'}]"}}`))
	n := New(Options{Now: func() time.Time { return time.Unix(0, 0) }})
	f.Fuzz(func(t *testing.T, data []byte) {
		out, meta, err := n.Append(nil, data)
		var v any
		isObject := json.Unmarshal(data, &v) == nil && func() bool { _, ok := v.(map[string]any); return ok }()
		if err != nil {
			if !errors.Is(err, ErrNotObject) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			if isObject {
				t.Fatalf("a JSON object was rejected: %v", err)
			}
			return
		}
		if !utf8.Valid(out) {
			t.Fatalf("output is not valid UTF-8: %q", out)
		}
		var doc map[string]any
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		if _, ok := doc["@timestamp"].(string); !ok || meta.Dataset == "" {
			t.Fatalf("document without @timestamp or dataset: %s", out)
		}
	})
}
