// Package envelope finds Defender streaming records in Event Hub message
// bodies and in files: envelopes {"records":[...]}, bare records, JSON arrays
// of records, one per line or pretty-printed over many lines.
package envelope

import "errors"

// ErrEmpty is returned by SplitBody for a body that holds no JSON at all
// (Event Hub heartbeats, keep-alives): skip it and count it.
var ErrEmpty = errors.New("empty message body")

// Record is one record found in an input.
type Record struct {
	// Bytes is the record's JSON exactly as it appeared in the input. It is
	// only valid until the next call that produced it.
	Bytes []byte
	// Line is the 1-based line of the input where the record starts.
	Line int
}

// Error describes input that could not be split into records. Raw holds
// the bytes that were skipped so they can be dead-lettered: nothing is lost.
type Error struct {
	Line   int
	Reason string
	Raw    []byte
	// Parts is set by SplitBody when a body is damaged in more than one
	// place: each bad stretch with its own line, reason and raw bytes,
	// exactly as in the body (Raw then joins them with line breaks, which
	// is not the body's bytes), so that each can be dead-lettered as it is.
	Parts []*Error
}

func (e *Error) Error() string {
	return "line " + itoa(e.Line) + ": " + e.Reason
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
