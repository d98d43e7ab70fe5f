package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/sink"
)

// tables gives each test directory a table of its own.
var tables sync.Map

func tableFor(dir string) string {
	v, _ := tables.LoadOrStore(dir, fmt.Sprintf("delivery_%d", tableSeq.Add(1)))
	return v.(string)
}

func TestDelivery(t *testing.T) {
	url := server(t)
	cfgFor := func(dir string) *Config {
		c := DefaultConfig()
		c.URL, c.Database, c.Table = url, "defender_test", tableFor(dir)
		c.DeadLetter = filepath.Join(dir, "ch-dl.ndjson")
		return c
	}
	var reader *Sink
	var once sync.Once
	deliverytest.RunSinkSuite(t, deliverytest.SinkHarness{
		Entry: func(t *testing.T, dir string) map[string]any {
			c := cfgFor(dir)
			return map[string]any{"name": "under-test", "type": "clickhouse", "url": c.URL, "database": c.Database, "table": c.Table, "dead_letter": c.DeadLetter}
		},
		Open: func(t *testing.T, dir string) sink.Sink {
			s, err := Open(context.Background(), "under-test", *cfgFor(dir))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Read: func(t *testing.T, dir string) [][]byte {
			c := cfgFor(dir)
			once.Do(func() {
				var err error
				if reader, err = Open(context.Background(), "reader", *c); err != nil {
					t.Fatal(err)
				}
			})
			b, err := reader.Query(context.Background(), fmt.Sprintf("SELECT doc FROM `%s`.`%s` FORMAT JSONEachRow", c.Database, c.Table))
			if err != nil {
				if strings.Contains(err.Error(), "doesn't exist") {
					return nil // the service has not created it yet
				}
				t.Fatal(err)
			}
			var out [][]byte
			dec := json.NewDecoder(strings.NewReader(string(b)))
			for dec.More() {
				var r struct{ Doc string }
				if err := dec.Decode(&r); err != nil {
					t.Fatal(err)
				}
				out = append(out, []byte(r.Doc))
			}
			return out
		},
	})
}
