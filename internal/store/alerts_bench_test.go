package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
)

// BenchmarkPutAlerts measures a detection batch's alert upsert: 500
// alerts per transaction, new ones and updates of existing ones.
func BenchmarkPutAlerts(b *testing.B) {
	ctx := context.Background()
	st := openTestStore(&testing.T{}, b.TempDir(), 0)
	defer st.Close()
	batch := make([]alerts.Alert, 500)
	for _, mode := range []string{"new", "update"} {
		b.Run(mode, func(b *testing.B) {
			n := 0
			for b.Loop() {
				if mode == "new" {
					n++
				}
				for i := range batch {
					batch[i] = testAlert(fmt.Sprintf("%d-%d", n, i), "rule", "Title", "high", fmt.Sprintf("h%d", i), time.Duration(i)*time.Second, 1+n)
				}
				if err := st.PutAlerts(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "alerts/s")
		})
	}
}
