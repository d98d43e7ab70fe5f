package envelope

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
)

// FuzzReader checks that the reader never panics or loops on any input,
// that every record it returns is a complete piece of the input, that
// every error's raw bytes are a piece of one line of the input, and that
// reading the input one byte per Read (every value cut by the end of the
// buffer, every going back across a refill) gives exactly the same result
// as reading it whole, and that reading resumed at the Position after an
// item gives the items that followed it.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		`{"records":[{"a":1},{"b":[2,{"c":"]"}]}]}`,
		"{\"a\":1}\n{\"b\":2}\n",
		"[{\"a\":1},\n{\"b\":2}]",
		"{\n \"records\": [\n  {\"a\": \"x\\\"y\"}\n ]\n}",
		"not json\n{\"a\":\"tru\n[1,2",
		"\xEF\xBB\xBF{\"a\":\"\xff\xfe\"}",
		"{\"p\":{\"a\":\"x\"\n{\"a\":1}\n",
		"{\"records\":[{\"a\":1},\n{\"records\":[{\"b\":2}]}\r\n  junk\n",
		"[\n  {\"a\":1},\n  {\"b\":2},\n{\"c\":3}\n",
		"{\"a\":\nnull}\n{\"a\":[1,-2.5e3,true]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var positions []Position
		whole := readItems(t, NewReader(bytes.NewReader(data)), data, &positions)
		bytewise := readItems(t, NewReader(iotest.OneByteReader(bytes.NewReader(data))), data, nil)
		if fmt.Sprint(whole) != fmt.Sprint(bytewise) {
			t.Fatalf("read whole: %q\nread byte by byte: %q", whole, bytewise)
		}
		// Resuming at the position after an item gives what followed it.
		if k := len(whole) / 2; k < len(whole) {
			p := positions[k]
			rest := readItems(t, NewReaderAt(bytes.NewReader(data[p.Offset:]), p), data, nil)
			if p.Items > len(rest) || fmt.Sprint(rest[p.Items:]) != fmt.Sprint(whole[k+1:]) {
				t.Fatalf("resumed after item %d at %+v: %q, want %q", k, p, rest, whole[k+1:])
			}
		}
	})
}

func readItems(t *testing.T, rd *Reader, data []byte, positions *[]Position) []string {
	var items []string
	for i := 0; ; i++ {
		if i > len(data)+2 {
			t.Fatalf("more items than input bytes: the reader loops")
		}
		rec, err := rd.Next()
		if err == io.EOF {
			return items
		}
		var e *Error
		if errors.As(err, &e) {
			if bytes.IndexByte(e.Raw, '\n') >= 0 || !bytes.Contains(data, e.Raw) {
				t.Fatalf("raw bytes %q are not a piece of one line of the input", e.Raw)
			}
			items = append(items, fmt.Sprintf("error line %d %s: %q", e.Line, e.Reason, e.Raw))
			if positions != nil {
				*positions = append(*positions, rd.Position())
			}
			continue
		}
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		if len(rec.Bytes) == 0 || !bytes.Contains(data, rec.Bytes) {
			t.Fatalf("record %q is not a piece of the input", rec.Bytes)
		}
		items = append(items, fmt.Sprintf("record line %d: %q", rec.Line, rec.Bytes))
		if positions != nil {
			*positions = append(*positions, rd.Position())
		}
	}
}
