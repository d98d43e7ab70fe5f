package storetest

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDocumentsAreValidECS(t *testing.T) {
	g := New(1, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Hour)
	for range 500 {
		b, ts := g.Next()
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(doc["message"].(string)), &raw); err != nil {
			t.Fatalf("message is not a JSON record: %v", err)
		}
		if doc["@timestamp"] != ts.Format(time.RFC3339Nano) || raw["time"] != doc["@timestamp"] {
			t.Fatalf("timestamps differ: %v %v %v", doc["@timestamp"], raw["time"], ts)
		}
		p := doc["process"].(map[string]any)
		if p["command_line"] != raw["properties"].(map[string]any)["ProcessCommandLine"] {
			t.Fatalf("command line differs")
		}
	}
}
