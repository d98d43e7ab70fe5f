package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Time ranges are bounded so that every valid one is answered in bounded
// time: a histogram has at most its requested number of buckets, a page
// query at most a dozen windows, and no duration overflows (time.Duration
// holds 292 years).
var (
	// MinTime is the earliest time a range may start at.
	MinTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	// MaxTime is the latest time a range may end at.
	MaxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// maxSpan is the longest range.
var maxSpan = MaxTime.Sub(MinTime)

// ErrRange is returned for a time range outside [MinTime, MaxTime] or
// empty.
var ErrRange = errors.New("store: time range")

// CheckRange reports whether [from, to) is a range the store answers:
// within [MinTime, MaxTime], from before to.
func CheckRange(from, to time.Time) error {
	switch {
	case from.Before(MinTime) || from.After(MaxTime):
		return fmt.Errorf("%w: from %s is outside %s to %s", ErrRange, from.UTC().Format(time.RFC3339), MinTime.Format(time.DateOnly), MaxTime.Format(time.DateOnly))
	case to.Before(MinTime) || to.After(MaxTime):
		return fmt.Errorf("%w: to %s is outside %s to %s", ErrRange, to.UTC().Format(time.RFC3339), MinTime.Format(time.DateOnly), MaxTime.Format(time.DateOnly))
	case !from.Before(to):
		return fmt.Errorf("%w: from must be before to", ErrRange)
	}
	return nil
}

// Bucket is one histogram bar: the events in [Start, End).
type Bucket struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Count int64     `json:"count"`
}

// Interval is the width of histogram buckets: a duration, or a number of
// calendar months (buckets then start on the first of a month, quarter,
// half-year, or year divisible by the number of years).
type Interval struct {
	Duration time.Duration
	Months   int
}

// Nominal is the interval as a duration, months counted as 1/12 of an
// average Gregorian year.
func (iv Interval) Nominal() time.Duration {
	if iv.Months > 0 {
		return time.Duration(iv.Months) * (365*24*time.Hour + 5*time.Hour + 49*time.Minute + 12*time.Second) / 12
	}
	return iv.Duration
}

// String is the interval as "30s", "5m", "3h", "7d", "3M" or "10y".
func (iv Interval) String() string {
	switch {
	case iv.Months >= 12 && iv.Months%12 == 0:
		return strconv.Itoa(iv.Months/12) + "y"
	case iv.Months > 0:
		return strconv.Itoa(iv.Months) + "M"
	case iv.Duration >= 24*time.Hour && iv.Duration%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(iv.Duration/(24*time.Hour)), 10) + "d"
	case iv.Duration >= time.Hour && iv.Duration%time.Hour == 0:
		return strconv.FormatInt(int64(iv.Duration/time.Hour), 10) + "h"
	case iv.Duration >= time.Minute && iv.Duration%time.Minute == 0:
		return strconv.FormatInt(int64(iv.Duration/time.Minute), 10) + "m"
	}
	return iv.Duration.String()
}

// Histogram is the answer of HistogramOf.
type Histogram struct {
	Buckets  []Bucket
	Interval Interval
}

// intervals are the bucket widths humans read easily, smallest first.
var intervals = []Interval{
	{Duration: time.Second}, {Duration: 5 * time.Second}, {Duration: 10 * time.Second}, {Duration: 30 * time.Second},
	{Duration: time.Minute}, {Duration: 5 * time.Minute}, {Duration: 10 * time.Minute}, {Duration: 30 * time.Minute},
	{Duration: time.Hour}, {Duration: 3 * time.Hour}, {Duration: 6 * time.Hour}, {Duration: 12 * time.Hour},
	{Duration: 24 * time.Hour}, {Duration: 7 * 24 * time.Hour},
	{Months: 1}, {Months: 3}, {Months: 6}, {Months: 12}, {Months: 24}, {Months: 5 * 12}, {Months: 10 * 12},
	{Months: 20 * 12}, {Months: 50 * 12}, {Months: 100 * 12}, {Months: 200 * 12}, {Months: 500 * 12},
}

// monthOf is t's month counted from January of year 0.
func monthOf(t time.Time) int64 { return int64(t.Year())*12 + int64(t.Month()) - 1 }

// monthStart is the first instant of month m (counted as monthOf does).
func monthStart(m int64) time.Time {
	return time.Date(int(m/12), time.Month(m%12+1), 1, 0, 0, 0, 0, time.UTC)
}

// planBuckets chooses the buckets of a histogram of [from, to) with at
// most n of them: the smallest interval of intervals whose aligned
// buckets number at most n; when even the widest does not fit (n of 1 or
// 2 over a range crossing a boundary), n equal buckets from from.
func planBuckets(from, to time.Time, n int) (buckets, Interval, []Bucket) {
	from, to = from.UTC(), to.UTC()
	bk := buckets{from: from.UnixMicro(), to: to.UnixMicro()}
	last := to.Add(-time.Microsecond)
	for _, iv := range intervals {
		if iv.Months > 0 {
			k := int64(iv.Months)
			first := monthOf(from) / k * k
			nb := (monthOf(last)-first)/k + 1
			if nb > int64(n) {
				continue
			}
			bk.months, bk.startMonth, bk.counts = k, first, make([]int64, nb)
			out := make([]Bucket, nb)
			for i := range out {
				m := first + int64(i)*k
				out[i] = Bucket{Start: monthStart(m), End: monthStart(m + k)}
			}
			return bk, iv, out
		}
		start := from.Truncate(iv.Duration)
		nb := int64((to.Sub(start) + iv.Duration - 1) / iv.Duration)
		if nb > int64(n) {
			continue
		}
		return fixedBuckets(bk, start, iv.Duration, nb), iv, nil
	}
	span := to.Sub(from)
	width := ceilDiv(ceilDiv(span, time.Duration(n)), time.Microsecond) * time.Microsecond
	nb := int64(ceilDiv(span, width))
	return fixedBuckets(bk, from, width, nb), Interval{Duration: width}, nil
}

// ceilDiv is a/b rounded up, for positive a and b, without overflow.
func ceilDiv(a, b time.Duration) time.Duration {
	q := a / b
	if a%b != 0 {
		q++
	}
	return q
}

func fixedBuckets(bk buckets, start time.Time, width time.Duration, nb int64) buckets {
	bk.start, bk.width, bk.counts = start.UnixMicro(), width.Microseconds(), make([]int64, nb)
	return bk
}

// HistogramOf counts matches of f in at most n buckets covering [From,
// To), of a width from 1 s to 500 years (calendar months and years above
// a week). It returns the buckets (empty ones included) and their width.
func (s *Store) HistogramOf(ctx context.Context, f Filter, n int) (Histogram, error) {
	if n <= 0 {
		return Histogram{}, errors.New("store: histogram needs buckets > 0")
	}
	if err := CheckRange(f.From, f.To); err != nil {
		return Histogram{}, err
	}
	bk, iv, out := planBuckets(f.From, f.To, n)
	if err := s.countIn(ctx, f, &bk); err != nil {
		return Histogram{}, fmt.Errorf("store: histogram: %w", err)
	}
	if out == nil {
		out = make([]Bucket, len(bk.counts))
		w := time.Duration(bk.width) * time.Microsecond
		for i := range out {
			start := time.UnixMicro(bk.start).UTC().Add(time.Duration(i) * w)
			out[i] = Bucket{Start: start, End: start.Add(w)}
		}
	}
	for i := range out {
		out[i].Count = bk.counts[i]
	}
	return Histogram{Buckets: out, Interval: iv}, nil
}

// Histogram is HistogramOf returning the buckets and their (nominal)
// width.
func (s *Store) Histogram(ctx context.Context, f Filter, n int) ([]Bucket, time.Duration, error) {
	h, err := s.HistogramOf(ctx, f, n)
	return h.Buckets, h.Interval.Nominal(), err
}
