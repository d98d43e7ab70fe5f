package store

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/defender-intake/defender-intake/internal/store/storetest"
)

// TestBuildKeepsEveryFieldButTheRawRecord checks the stored document of
// generated and real normalized documents against encoding/json.
func TestBuildKeepsEveryFieldButTheRawRecord(t *testing.T) {
	g := storetest.New(9, t0, span)
	var docs [][]byte
	for range 200 {
		d, _ := g.Next()
		docs = append(docs, d)
	}
	docs = append(docs, []byte(`{"message":{"not":"a string"},"event":{"dataset":"x"}}`), []byte(`{"mess\u0061ge":"escaped key","x":"\u00e9"}`))
	var b rowBuilder
	for _, d := range docs {
		row, _, err := b.build(newFieldSet(), d, t0, 1, t0)
		if err != nil {
			t.Fatal(err)
		}
		var in, stored map[string]any
		if err := json.Unmarshal(d, &in); err != nil {
			t.Fatal(err)
		}
		msg, isString := in["message"].(string)
		if isString {
			delete(in, "message")
		}
		if err := json.Unmarshal([]byte(row[len(row)-2].(string)), &stored); err != nil {
			t.Fatalf("stored document is not JSON: %v", err)
		}
		if !reflect.DeepEqual(stored, in) {
			t.Fatalf("stored %v\nwant %v", stored, in)
		}
		if got, _ := row[len(row)-1].(string); isString && got != msg {
			t.Fatalf("message column %q, want %q", got, msg)
		}
	}
}
