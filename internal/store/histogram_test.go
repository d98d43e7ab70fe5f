package store

import (
	"math/rand/v2"
	"testing"
	"time"
)

// Buckets never outnumber the request, cover the range without gaps, and
// start on calendar boundaries above a week.
func TestPlanBuckets(t *testing.T) {
	y := func(year int) time.Time { return time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		from, to time.Time
		n        int
		interval string
		buckets  int
	}{
		{y(1990), y(2026), 40, "1y", 36},    // was 1,928 weekly buckets
		{y(1970), y(2200), 1000, "3M", 920}, // the whole searchable range
		{y(1970), y(2200), 60, "5y", 46},    // 1970 is a multiple of 5
		{y(1970), y(2200), 1, "84006d", 1},  // no aligned width fits one bucket: n equal ones
		{y(2024), y(2025), 12, "1M", 12},    // months of different lengths
		{y(2024), y(2024).Add(24 * time.Hour), 24, "1h", 24},
		{y(2024).Add(30 * time.Minute), y(2024).Add(24*time.Hour + 30*time.Minute), 24, "3h", 9}, // 1h would need 25
		{y(2024), y(2024).Add(2 * time.Second), 80, "1s", 2},
		{y(2024), y(2024).Add(time.Microsecond), 80, "1s", 1},
	}
	for _, tt := range tests {
		bk, iv, out := planBuckets(tt.from, tt.to, tt.n)
		if iv.String() != tt.interval || len(bk.counts) != tt.buckets {
			t.Errorf("%s..%s in %d: %d buckets of %s, want %d of %s", tt.from, tt.to, tt.n, len(bk.counts), iv, tt.buckets, tt.interval)
		}
		if out != nil && (out[0].Start.After(tt.from) || out[len(out)-1].End.Before(tt.to)) {
			t.Errorf("%s..%s: buckets %s..%s do not cover it", tt.from, tt.to, out[0].Start, out[len(out)-1].End)
		}
	}

	rng := rand.New(rand.NewPCG(3, 4))
	lo, hi := MinTime.UnixMicro(), MaxTime.UnixMicro()
	for range 5000 {
		a, b := lo+rng.Int64N(hi-lo), lo+rng.Int64N(hi-lo)
		if rng.IntN(2) == 0 { // short ranges too
			b = a + rng.Int64N(int64(1)<<rng.IntN(45))
		}
		a, b = min(a, b), max(a, b)
		if a == b || b > hi {
			continue
		}
		from, to := time.UnixMicro(a).UTC(), time.UnixMicro(b).UTC()
		n := 1 + rng.IntN(1000)
		bk, iv, _ := planBuckets(from, to, n)
		if len(bk.counts) < 1 || len(bk.counts) > n {
			t.Fatalf("%s..%s in %d: %d buckets of %s", from, to, n, len(bk.counts), iv)
		}
		// Every instant of the range falls in a bucket.
		for _, ts := range []int64{a, b - 1, a + rng.Int64N(b-a)} {
			if i := bk.index(ts); i < 0 || i >= len(bk.counts) {
				t.Fatalf("%s..%s in %d (%s): %s falls in bucket %d of %d", from, to, n, iv, time.UnixMicro(ts).UTC(), i, len(bk.counts))
			}
		}
		if iv.Months > 0 && monthStart(bk.startMonth).Day() != 1 {
			t.Fatalf("calendar buckets start on %s", monthStart(bk.startMonth))
		}
	}
}

func TestCheckRange(t *testing.T) {
	ok := func(from, to time.Time) bool { return CheckRange(from, to) == nil }
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	if !ok(MinTime, MaxTime) || !ok(now.Add(-time.Hour), now) {
		t.Error("valid range refused")
	}
	for _, r := range [][2]time.Time{
		{MinTime.Add(-time.Microsecond), now},
		{now, MaxTime.Add(time.Microsecond)},
		{time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2192, 1, 1, 0, 0, 0, 0, time.UTC)},
		{now, now},
		{now, now.Add(-time.Second)},
		{time.Time{}, now},
	} {
		if ok(r[0], r[1]) {
			t.Errorf("%s..%s accepted", r[0], r[1])
		}
	}
}
