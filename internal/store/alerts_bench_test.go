package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
)

// BenchmarkPutAlerts measures a detection batch's alert upsert: 5 or 500
// alerts per transaction, new ones and updates of existing ones, each
// alert carrying 100 event ids (max_event_ids' default, what a noisy
// rule's alert soon has).
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
	for _, mode := range []string{"new/5", "update/5", "new/500", "update/500"} {
		size := 5
		if strings.HasSuffix(mode, "/500") {
			size = 500
		}
		batch := make([]alerts.Alert, size)
		b.Run(mode, func(b *testing.B) {
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
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "alerts/s")
		})
	}
}
