package storesink

import (
	"context"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/query"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/store"
)

var _ sink.Sink = (*Sink)(nil)

func TestRegisteredAndWrites(t *testing.T) {
	f, ok := sink.Lookup("store")
	if !ok {
		t.Fatal("store sink type not registered")
	}
	sec := f.NewSection().(*Config)
	sec.Dir = t.TempDir()
	if err := sec.Validate(); err != nil {
		t.Fatal(err)
	}
	sk, err := f.OpenSink("events", sec, sink.Env{})
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	docs := []sink.Doc{
		{JSON: []byte(`{"@timestamp":"2024-05-01T10:00:00Z","host":{"name":"ws1"},"message":"{\"a\":1}"}`), Timestamp: ts},
		{JSON: []byte(`"not an object"`), Timestamp: ts},
	}
	if err := sk.Write(context.Background(), docs); err != nil {
		t.Fatalf("Write: %v", err)
	}
	st := sk.(*Sink).Store()
	if err := st.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		q    string
		want int64
	}{
		{"host.name:ws1", 1},
		{"event.dataset:store.invalid_document", 1},
		{`"not an object"`, 1},
	}
	for _, tt := range tests {
		sql, err := (&query.Compiler{Catalog: st.Catalog()}).Compile(tt.q)
		if err != nil {
			t.Fatal(err)
		}
		p, err := st.Search(context.Background(), store.Filter{Where: sql, From: ts.Add(-time.Hour), To: ts.Add(time.Hour)}, 10, "")
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != tt.want {
			t.Errorf("%s: %d events, want %d", tt.q, p.Total, tt.want)
		}
	}
	if err := sk.Close(); err != nil {
		t.Fatal(err)
	}
}
