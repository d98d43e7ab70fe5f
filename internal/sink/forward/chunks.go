package forward

import "github.com/defender-intake/defender-intake/internal/sink"

// Encoded is a batch of documents each encoded for a request body, in one
// buffer kept between batches.
type Encoded struct {
	// Items are the encoded documents, in the batch's order.
	Items [][]byte
	buf   []byte
	ends  []int
}

// Encode replaces the items with the encodings of docs.
func (e *Encoded) Encode(docs []sink.Doc, enc func(dst []byte, d sink.Doc) []byte) {
	e.buf, e.ends = e.buf[:0], e.ends[:0]
	for _, d := range docs {
		e.buf = enc(e.buf, d)
		e.ends = append(e.ends, len(e.buf))
	}
	e.Items = e.Items[:0]
	start := 0
	for _, end := range e.ends {
		e.Items = append(e.Items, e.buf[start:end])
		start = end
	}
}

// Chunks bounds the requests of a sink that posts items in chunks.
type Chunks struct {
	MaxItems, MaxBytes int
	// Overhead is the size of a request's body without items; PerItem is
	// added to each item's length (a separator).
	Overhead, PerItem int
}

// Send posts items in chunks within the bounds (an item larger than
// MaxBytes goes alone). A chunk refused for good is narrowed down to the
// items refused on their own, which reject dead-letters (Narrow). A chunk
// that still fails makes it and every later item a *sink.PartialError, so
// the pipeline retries exactly those.
func (c Chunks) Send(items [][]byte, post func(idx []int) error, reject func(i int, err error) error) error {
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	for start := 0; start < len(idx); {
		end, size := start, c.Overhead
		for end < len(idx) && end-start < c.MaxItems {
			n := len(items[end]) + c.PerItem
			if end > start && size+n > c.MaxBytes {
				break
			}
			size += n
			end++
		}
		if err := Narrow(idx[start:end], post, reject); err != nil {
			return &sink.PartialError{Failed: idx[start:], Err: err}
		}
		start = end
	}
	return nil
}
