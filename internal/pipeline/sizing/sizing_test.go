package sizing

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// record returns a raw record of the table at t, padded to about size bytes.
func record(table string, t time.Time, size int) []byte {
	head := fmt.Sprintf(`{"time":%q,"category":%q,"properties":{"Pad":"`, t.Format(time.RFC3339Nano), table)
	tail := `"}}`
	return []byte(head + strings.Repeat("x", max(0, size-len(head)-len(tail))) + tail)
}

func TestReport(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		feed      func(e *Estimator)
		consumers int
		wantTU    int
		wantParts int
		wantPeak  float64 // total peak records/s
		premium   bool
	}{
		{name: "quiet: one TU minimum", feed: func(e *Estimator) {
			for i := 0; i < 60; i++ {
				e.AddRecord(record("AdvancedHunting-DeviceEvents", t0.Add(time.Duration(i)*time.Second), 1000), t0)
			}
		}, wantTU: 1, wantParts: 1, wantPeak: 1},
		{name: "bytes drive it: 3.5 MB/s peak", feed: func(e *Estimator) {
			// 210 records of 1 MiB in one minute: 3.5 MiB/s; 3.5 rec/s.
			for i := 0; i < 210; i++ {
				e.AddRecord(record("AdvancedHunting-DeviceProcessEvents", t0.Add(time.Duration(i)*250*time.Millisecond), 1<<20), t0)
			}
		}, wantTU: 4, wantParts: 4, wantPeak: 3.5},
		{name: "events drive it: 2,500 events/s", feed: func(e *Estimator) {
			for i := 0; i < 150000; i++ {
				e.add("AdvancedHunting-DeviceNetworkEvents", t0.Add(time.Duration(i)*400*time.Microsecond), 100)
			}
		}, wantTU: 3, wantParts: 3, wantPeak: 2500},
		{name: "messages known: envelopes count, not records", feed: func(e *Estimator) {
			for i := 0; i < 150000; i++ {
				at := t0.Add(time.Duration(i) * 400 * time.Microsecond)
				e.add("AdvancedHunting-DeviceNetworkEvents", at, 100)
				if i%100 == 0 {
					e.AddMessage(at, 10000)
				}
			}
		}, wantTU: 1, wantParts: 1, wantPeak: 2500},
		{name: "three consumer groups triple egress", consumers: 3, feed: func(e *Estimator) {
			for i := 0; i < 180; i++ { // 3 MiB/s in, 9 MiB/s out
				e.add("AdvancedHunting-DeviceFileEvents", t0.Add(time.Duration(i)*time.Second/3), 1<<20)
			}
		}, wantTU: 5, wantParts: 5, wantPeak: 3},
		{name: "beyond Standard", feed: func(e *Estimator) {
			for i := 0; i < 60*50; i++ { // 50 MiB/s
				e.add("AdvancedHunting-DeviceEvents", t0.Add(time.Duration(i)*20*time.Millisecond), 1<<20)
			}
		}, wantTU: 50, wantParts: 32, wantPeak: 50, premium: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := New(time.Minute)
			tc.feed(e)
			r := e.Report(tc.consumers)
			if r.ThroughputUnits != tc.wantTU || r.Partitions != tc.wantParts || r.NeedsPremium != tc.premium {
				t.Errorf("TU %d partitions %d premium %v, want %d %d %v (report %+v)", r.ThroughputUnits, r.Partitions, r.NeedsPremium, tc.wantTU, tc.wantParts, tc.premium, r)
			}
			if r.Total.PeakEPS != tc.wantPeak {
				t.Errorf("peak %v records/s, want %v", r.Total.PeakEPS, tc.wantPeak)
			}
		})
	}
}

func TestPerTable(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := New(time.Second)
	for i := 0; i < 10; i++ {
		e.AddRecord(record("A", t0, 100), t0)
	}
	for i := 0; i < 4; i++ {
		e.AddRecord(record("B", t0.Add(time.Duration(i)*time.Second), 5000), t0)
	}
	r := e.Report(1)
	if len(r.Tables) != 2 || r.Tables[0].Table != "B" || r.Tables[1].Table != "A" {
		t.Fatalf("tables %+v", r.Tables)
	}
	if a := r.Tables[1]; a.Records != 10 || a.PeakEPS != 10 || a.AvgEPS != 10.0/3 {
		t.Errorf("A = %+v", a)
	}
	if b := r.Tables[0]; b.PeakEPS != 1 || b.AvgEPS != 4.0/3 {
		t.Errorf("B = %+v", b)
	}
}
