package normalize

import (
	"strings"
	"time"
)

// parseTime reads the timestamps Defender writes ("2023-01-04T14:15:10.4684522Z"
// and variants: any number of fraction digits, a numeric offset, a space
// instead of T, no zone meaning UTC, or a date alone).
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	rest := s[10:]
	var hour, min, sec, nsec int
	loc := time.UTC
	if rest != "" {
		if rest[0] != 'T' && rest[0] != 't' && rest[0] != ' ' {
			return time.Time{}, false
		}
		rest = rest[1:]
		if len(rest) < 5 || rest[2] != ':' {
			return time.Time{}, false
		}
		var ok bool
		if hour, ok = digits(rest[0:2]); !ok {
			return time.Time{}, false
		}
		if min, ok = digits(rest[3:5]); !ok {
			return time.Time{}, false
		}
		rest = rest[5:]
		if len(rest) >= 3 && rest[0] == ':' {
			if sec, ok = digits(rest[1:3]); !ok {
				return time.Time{}, false
			}
			rest = rest[3:]
			if len(rest) > 1 && (rest[0] == '.' || rest[0] == ',') {
				j := 1
				for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
					j++
				}
				frac := rest[1:j]
				if frac == "" {
					return time.Time{}, false
				}
				// Keep microseconds, truncating the rest, as the reference does.
				if len(frac) > 6 {
					frac = frac[:6]
				}
				nsec, _ = digits(frac)
				for i := len(frac); i < 9; i++ {
					nsec *= 10
				}
				rest = rest[j:]
			}
		}
		switch {
		case rest == "" || rest == "Z" || rest == "z":
		case rest[0] == '+' || rest[0] == '-':
			off := strings.ReplaceAll(rest[1:], ":", "")
			if len(off) != 2 && len(off) != 4 {
				return time.Time{}, false
			}
			h, ok := digits(off[:2])
			m := 0
			if len(off) == 4 {
				m, ok = digits(off[2:])
			}
			if !ok || h > 23 || m > 59 {
				return time.Time{}, false
			}
			secs := h*3600 + m*60
			if rest[0] == '-' {
				secs = -secs
			}
			loc = time.FixedZone("", secs)
		default:
			return time.Time{}, false
		}
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || min > 59 || sec > 59 || year < 1 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, min, sec, nsec, loc).UTC(), true
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, len(s) > 0
}

// epoch reads a number as Unix seconds, or milliseconds when it is too
// large to be seconds.
func epoch(f float64) time.Time {
	if f > 1e11 || f < -1e11 {
		f /= 1000
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)/1000*1000).UTC()
}

// formatTime writes t in UTC as the reference does: microseconds when the
// time has any, none when it is a whole second.
func formatTime(t time.Time) string {
	return string(appendTime(make([]byte, 0, 27), t))
}

func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		// Years the fixed layout below cannot write.
		if t.Nanosecond()/1000 == 0 {
			return t.AppendFormat(dst, "2006-01-02T15:04:05Z")
		}
		return t.AppendFormat(dst, "2006-01-02T15:04:05.000000Z")
	}
	hour, min, sec := t.Clock()
	// Every timestamp of every document goes through here: written digit
	// by digit rather than through the general layout interpreter.
	dst = append(dst,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+min/10), byte('0'+min%10), ':',
		byte('0'+sec/10), byte('0'+sec%10))
	if us := t.Nanosecond() / 1000; us != 0 {
		dst = append(dst, '.',
			byte('0'+us/100000), byte('0'+us/10000%10), byte('0'+us/1000%10),
			byte('0'+us/100%10), byte('0'+us/10%10), byte('0'+us%10))
	}
	return append(dst, 'Z')
}
