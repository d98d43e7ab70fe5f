package web

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/detectsink"
	"github.com/defender-intake/defender-intake/internal/query"
	"github.com/defender-intake/defender-intake/internal/store"
)

// BenchmarkAlertEvents measures the click-through from an alert to its
// events: ids= (100 alert event ids, matched by hashing the raw records in
// the range) against the baseline of a plain typed-column filter over the
// same range and store. The generated events are spread at random over 7
// days, so every row group holds some of any range: a worst case for the
// raw records read to hash them. Run with -bench AlertEvents -benchtime 5x.
func BenchmarkAlertEvents(b *testing.B) {
	const n = 200_000
	st := loadedStore(b, n)
	ctx := context.Background()
	all := store.Filter{From: t0, To: now}
	page, err := st.Search(ctx, all, 500, "")
	if err != nil {
		b.Fatal(err)
	}
	var ids []string
	for _, e := range page.Events[:100] {
		full, err := st.Get(ctx, e.ID)
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, detectsink.EventID([]byte(full.Message)))
	}
	byIDs, err := withAlertEventIDs(query.SQL{}, strings.Join(ids, ","))
	if err != nil {
		b.Fatal(err)
	}
	var first map[string]any
	if err := json.Unmarshal(page.Events[0].Doc, &first); err != nil {
		b.Fatal(err)
	}
	hostName := first["host"].(map[string]any)["name"].(string)
	host, err := (&query.Compiler{Catalog: st.Catalog()}).Compile(`host.name:"` + hostName + `"`)
	if err != nil {
		b.Fatal(err)
	}
	// What the page sends for a host-grouped alert: its host as the query
	// (a typed column, read first) and the ids.
	hostAndIDs, err := withAlertEventIDs(host, strings.Join(ids, ","))
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range []struct {
		name  string
		span  time.Duration
		where query.SQL
		want  int64 // -1: any
	}{
		{"baseline_host_filter/7d", 7 * 24 * time.Hour, host, -1},
		{"alert_ids/7d", 7 * 24 * time.Hour, byIDs, 100},
		{"alert_ids_and_host/7d", 7 * 24 * time.Hour, hostAndIDs, -1},
		{"baseline_host_filter/1h", time.Hour, host, -1},
		{"alert_ids/1h", time.Hour, byIDs, -1},
		{"alert_ids_and_host/1h", time.Hour, hostAndIDs, -1},
	} {
		b.Run(r.name, func(b *testing.B) {
			f := store.Filter{Where: r.where, From: now.Add(-r.span), To: now}
			for b.Loop() {
				p, err := st.Search(ctx, f, 100, "")
				if err != nil {
					b.Fatal(err)
				}
				if r.want >= 0 && p.Total != r.want {
					b.Fatalf("%d events, want %d", p.Total, r.want)
				}
			}
		})
	}
}
