package store

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/defender-intake/defender-intake/internal/query"
)

// DocError lists documents of a Write that were refused (not JSON objects);
// every other document of the batch was written.
type DocError struct {
	Failed []int // indices into the batch, ascending
	Errs   []error
}

func (e *DocError) Error() string {
	return fmt.Sprintf("store: %d documents refused: %v", len(e.Failed), e.Errs[0])
}

// converted is one document turned into an Appender row.
type converted struct {
	row  []driver.Value
	ts   time.Time
	keys []uint64 // word index keys of the raw record
	err  error
}

// convert builds the rows of a batch on all cores: parsing the documents is
// most of the CPU a Write costs. Row ids are left 0 for the caller.
//
// The word index keys go to buffers kept from one Write to the next (under
// writeMu): they are large (a hundred keys per record) and only live until
// Write has added them to the index.
func (s *Store) convert(docs []Doc, now time.Time) []converted {
	out := make([]converted, len(docs))
	workers := min(runtime.GOMAXPROCS(0), (len(docs)+127)/128)
	for len(s.keyBufs) < max(workers, 1) {
		s.keyBufs = append(s.keyBufs, nil)
	}
	if workers <= 1 {
		keys := s.keyBufs[0][:0]
		for i, d := range docs {
			out[i].row, out[i].ts, out[i].err = s.builder.build(s.fields, d.JSON, d.Timestamp, 0, now)
			keys = out[i].appendKeys(keys)
		}
		s.keyBufs[0] = keys
		return out
	}
	var wg sync.WaitGroup
	chunk := (len(docs) + workers - 1) / workers
	for w, lo := 0, 0; lo < len(docs); w, lo = w+1, lo+chunk {
		hi := min(lo+chunk, len(docs))
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := builders.Get().(*rowBuilder)
			defer builders.Put(b)
			keys := s.keyBufs[w][:0]
			for i := lo; i < hi; i++ {
				out[i].row, out[i].ts, out[i].err = b.build(s.fields, docs[i].JSON, docs[i].Timestamp, 0, now)
				keys = out[i].appendKeys(keys)
			}
			s.keyBufs[w] = keys
		}()
	}
	wg.Wait()
	return out
}

// appendKeys computes the word index keys of the row's raw record into
// buf, where c.keys points (buf's later growth leaves them in place).
func (c *converted) appendKeys(buf []uint64) []uint64 {
	if c.err != nil {
		return buf
	}
	msg, _ := c.row[len(c.row)-1].(string)
	start := len(buf)
	buf = query.AppendWordKeys(buf, msg)
	c.keys = buf[start:len(buf):len(buf)]
	return buf
}

var builders = sync.Pool{New: func() any { return new(rowBuilder) }}

// rowBuilder holds the buffers of one goroutine building rows.
type rowBuilder struct {
	parser  fastjson.Parser
	scanner rowScanner
}

// build makes the Appender row for one document and resolves its
// timestamp (the given one, else @timestamp, else now). Most documents
// take the scanner's one pass (rowscan.go); the rest, and those the field
// catalogue samples, are parsed into a tree: both give the same row.
func (b *rowBuilder) build(fields *fieldSet, doc []byte, ts time.Time, id uint64, now time.Time) ([]driver.Value, time.Time, error) {
	row, rowTS, ok := b.scanner.build(doc, ts, id, now)
	if !ok {
		return b.buildParsed(fields, doc, ts, id, now, true)
	}
	// As fieldSet.observe counts: every document that is a JSON object.
	if n := fields.seen.Add(1); n <= sampleFirst || n%sampleEvery == 0 {
		return b.buildParsed(fields, doc, ts, id, now, false)
	}
	return row, rowTS, nil
}

// buildParsed is build through a fastjson tree. count tells whether the
// document is still to be counted by the field catalogue's sampling.
func (b *rowBuilder) buildParsed(fields *fieldSet, doc []byte, ts time.Time, id uint64, now time.Time, count bool) ([]driver.Value, time.Time, error) {
	v, err := b.parser.ParseBytes(doc)
	if err != nil {
		return nil, ts, fmt.Errorf("document is not JSON: %w", err)
	}
	obj, err := v.Object()
	if err != nil {
		return nil, ts, errors.New("document is not a JSON object")
	}
	if ts.IsZero() {
		if t := v.GetStringBytes("@timestamp"); t != nil {
			ts, _ = time.Parse(time.RFC3339Nano, string(t))
		}
		if ts.IsZero() {
			ts = now
		}
	}
	ts = ts.UTC()
	// Every string of the row is copied into one arena: one allocation per
	// document instead of one per column.
	a := arena(make([]byte, 0, len(doc)+384))
	var message any
	m := v.Get("message")
	if m != nil && m.Type() == fastjson.TypeString {
		message = a.string(m.GetStringBytes())
	}
	if count {
		fields.observe(v)
	} else {
		fields.walk(v, "")
	}
	row := make([]driver.Value, 0, len(typedColumns)+5)
	row = append(row, id, ts, now)
	for i, c := range typedColumns {
		row = append(row, extract(v, c, typedPaths[i], &a))
	}
	// The raw record lives in its own column; keeping it out of doc halves
	// the stored bytes. Get puts it back.
	// A message that is not a string is no raw record: it stays.
	if message != nil {
		obj.Del("message")
	}
	start := len(a)
	a = v.MarshalTo(a)
	row = append(row, a.tail(start), message)
	return row, ts, nil
}

// arena holds the strings of one row. A string made from it shares its
// bytes, which are never written again: appends only ever go past the
// strings already made, and growing moves later ones to a new array.
type arena []byte

func (a *arena) string(b []byte) string {
	start := len(*a)
	*a = append(*a, b...)
	return a.tail(start)
}

// tail is the string of the arena's bytes from start on.
func (a arena) tail(start int) string {
	if start == len(a) {
		return ""
	}
	return unsafe.String(&a[start], len(a)-start)
}
