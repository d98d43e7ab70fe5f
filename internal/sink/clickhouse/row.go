package clickhouse

import (
	"strconv"
	"time"

	"github.com/valyala/fastjson"

	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward"
)

// appendRow appends the JSONEachRow line of d. A document that is not
// JSON still becomes a row (doc holds it as text), so nothing is lost.
func (s *Sink) appendRow(dst []byte, d sink.Doc) []byte {
	v, err := s.parser.ParseBytes(d.JSON)
	if err != nil {
		v = nil
	}
	ts := d.Timestamp
	if ts.IsZero() && v != nil {
		ts, _ = time.Parse(time.RFC3339Nano, string(v.GetStringBytes("@timestamp")))
	}
	if ts.IsZero() {
		ts = s.now()
	}
	ingested := s.now()
	if v != nil {
		if t, err := time.Parse(time.RFC3339Nano, string(v.GetStringBytes("event", "ingested"))); err == nil {
			ingested = t
		}
	}
	dst = append(dst, `{"ts":`...)
	dst = appendDateTime(dst, ts)
	dst = append(dst, `,"ts_us":`...)
	dst = strconv.AppendInt(dst, ts.UnixMicro(), 10)
	dst = append(dst, `,"ingested":`...)
	dst = appendDateTime(dst, ingested)
	for _, c := range columns {
		dst = append(dst, `,"`...)
		dst = append(dst, c.Name...)
		dst = append(dst, `":`...)
		var f *fastjson.Value
		if v != nil {
			if f = v.Get(c.keys...); f == nil {
				f = v.Get(c.Field) // a flattened "a.b" key
			}
		}
		switch {
		case c.number:
			dst = appendPort(dst, f)
		case c.array:
			dst = appendStrings(dst, f)
		default:
			dst = appendString(dst, f)
		}
	}
	dst = append(dst, `,"message":`...)
	if v != nil {
		dst = appendString(dst, v.Get("message"))
		v.Del("message") // kept once, in its own column
		s.scratch = v.MarshalTo(s.scratch[:0])
	} else {
		dst = append(dst, `""`...)
		s.scratch = append(s.scratch[:0], d.JSON...)
	}
	dst = append(dst, `,"doc":`...)
	dst = forward.AppendQuoted(dst, s.scratch)
	return append(dst, "}\n"...)
}

func appendDateTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, "2006-01-02 15:04:05")
	return append(dst, '"')
}

// appendString writes a string column: a JSON string as is, another
// scalar as its text, an object or array as its JSON text, absent as "".
func appendString(dst []byte, f *fastjson.Value) []byte {
	if f == nil || f.Type() == fastjson.TypeNull {
		return append(dst, `""`...)
	}
	if f.Type() == fastjson.TypeString {
		// Unescaped then quoted by appendQuoted: fastjson's own quoting
		// goes through strconv (slow, and Go escapes are not JSON).
		return forward.AppendQuoted(dst, f.GetStringBytes())
	}
	var tmp [64]byte
	return forward.AppendQuoted(dst, f.MarshalTo(tmp[:0]))
}

func appendStrings(dst []byte, f *fastjson.Value) []byte {
	dst = append(dst, '[')
	if f != nil && f.Type() == fastjson.TypeArray {
		for i, e := range f.GetArray() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, e)
		}
	} else if f != nil && f.Type() != fastjson.TypeNull {
		dst = appendString(dst, f)
	}
	return append(dst, ']')
}

// appendPort writes a UInt16 column: 0 when absent or out of range.
func appendPort(dst []byte, f *fastjson.Value) []byte {
	var n int64
	if f != nil {
		switch f.Type() {
		case fastjson.TypeNumber:
			n, _ = f.Int64()
		case fastjson.TypeString:
			n, _ = strconv.ParseInt(string(f.GetStringBytes()), 10, 64)
		}
	}
	if n < 0 || n > 65535 {
		n = 0
	}
	return strconv.AppendInt(dst, n, 10)
}
