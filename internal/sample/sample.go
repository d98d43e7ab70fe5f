// Package sample gives `defender-intake demo` the sample Defender XDR
// records the project ships (examples/defender-sample.ndjson), moved in
// time when asked so that they end now: the Events page opens on the last
// 24 hours, and a sample fixed in the past would show nothing there.
package sample

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/defender-intake/defender-intake/examples"
	"github.com/defender-intake/defender-intake/internal/envelope"
)

// Records returns the sample's records (one Defender record, a JSON
// object, each). With end set, every time of the records' own period is
// moved by the same amount so that the newest record is at end: their
// spacing, and so their order and the grouping of alerts, is kept. Times
// outside that period (a certificate's expiry, a file's creation years
// ago) are left alone. It returns how far the times moved.
func Records(end time.Time) ([][]byte, time.Duration, error) {
	rd := envelope.NewReader(bytes.NewReader(examples.DefenderSample))
	var recs [][]byte
	var oldest, newest time.Time
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("sample: %w", err)
		}
		b := bytes.Clone(rec.Bytes)
		recs = append(recs, b)
		t, ok := recordTime(b)
		if !ok {
			continue
		}
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
		if t.After(newest) {
			newest = t
		}
	}
	if end.IsZero() || newest.IsZero() {
		return recs, 0, nil
	}
	by := end.Sub(newest).Truncate(time.Second)
	lo, hi := oldest.Add(-24*time.Hour), newest.Add(24*time.Hour)
	for i, r := range recs {
		recs[i] = ShiftTimes(r, lo, hi, by)
	}
	return recs, by, nil
}

// recordTime is a record's own time: properties.Timestamp, else time.
func recordTime(rec []byte) (time.Time, bool) {
	for _, keys := range [][]string{{"properties", "Timestamp"}, {"time"}} {
		if s := fastjson.GetString(rec, keys...); s != "" {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// timeText matches an ISO 8601 date and time as Defender writes them:
// fractions of up to 9 digits, a Z or an offset, or no zone at all (UTC).
var timeText = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)?`)

// ShiftTimes moves by every time in rec (in any string, JSON-escaped ones
// included) that falls in [lo, hi], writing it back in the same format
// (fraction digits, zone) so nothing else of the record changes.
func ShiftTimes(rec []byte, lo, hi time.Time, by time.Duration) []byte {
	return timeText.ReplaceAllFunc(rec, func(m []byte) []byte {
		s := string(m)
		frac, zone := "", ""
		if i := strings.IndexByte(s, '.'); i >= 0 {
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			frac = s[i+1 : j]
		}
		base := s[:19]
		zone = s[19+len(frac)+min(len(frac), 1):]
		t, err := time.Parse("2006-01-02T15:04:05", base)
		if err != nil {
			return m
		}
		loc := time.UTC
		if zone != "" && zone != "Z" {
			z, err := time.Parse("-07:00", zone)
			if err != nil {
				return m
			}
			loc = z.Location()
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, loc)
		}
		if frac != "" {
			ns := frac + strings.Repeat("0", 9-len(frac))
			var n int
			fmt.Sscanf(ns, "%d", &n)
			t = t.Add(time.Duration(n))
		}
		if t.Before(lo) || t.After(hi) {
			return m
		}
		t = t.Add(by).In(loc)
		out := t.Format("2006-01-02T15:04:05")
		if frac != "" {
			out += "." + fmt.Sprintf("%09d", t.Nanosecond())[:len(frac)]
		}
		return []byte(out + zone)
	})
}
