package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
)

// BenchmarkPutAlerts measures a detection batch's PutAlerts: 5 or 500
// alerts, new ones and updates of existing ones, each alert carrying 100
// event ids (max_event_ids' default, what a noisy rule's alert soon has):
// the append and fsync of the alert log the sink waits for (the loader
// commits to DuckDB in the background meanwhile, once a second). The
// "loaded" cases also load every batch into DuckDB before the next one
// (the cost of an upsert transaction per batch, what PutAlerts was before
// the alert log).
func BenchmarkPutAlerts(b *testing.B) {
	ctx := context.Background()
	st, err := Open(ctx, Config{Dir: b.TempDir()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf("%032x", i)
	}
	for _, mode := range []string{"new/5", "update/5", "new/500", "update/500", "loaded/update/5", "loaded/update/500"} {
		size := 5
		if strings.HasSuffix(mode, "/500") {
			size = 500
		}
		batch := make([]alerts.Alert, size)
		b.Run(mode, func(b *testing.B) {
			if err := st.loadAlerts(ctx); err != nil { // not the previous case's backlog
				b.Fatal(err)
			}
			n := 0
			for b.Loop() {
				if strings.HasPrefix(mode, "new") {
					n++
				}
				for i := range batch {
					batch[i] = testAlert(fmt.Sprintf("%d-%d", n, i), "rule", "Title", "high", fmt.Sprintf("h%d", i), time.Duration(i)*time.Second, 1+n)
					batch[i].EventIDs = ids
				}
				if err := st.PutAlerts(ctx, batch); err != nil {
					b.Fatal(err)
				}
				if strings.HasPrefix(mode, "loaded/") {
					if err := st.loadAlerts(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "alerts/s")
		})
	}
}
