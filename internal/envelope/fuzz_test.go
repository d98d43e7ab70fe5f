package envelope

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReader checks that the reader never panics or loops on any input and
// that every record it returns is a complete JSON value of the input.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		`{"records":[{"a":1},{"b":[2,{"c":"]"}]}]}`,
		"{\"a\":1}\n{\"b\":2}\n",
		"[{\"a\":1},\n{\"b\":2}]",
		"{\n \"records\": [\n  {\"a\": \"x\\\"y\"}\n ]\n}",
		"not json\n{\"a\":\"tru\n[1,2",
		"\xEF\xBB\xBF{\"a\":\"\xff\xfe\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rd := NewReader(bytes.NewReader(data))
		for i := 0; ; i++ {
			if i > len(data)+2 {
				t.Fatalf("more items than input bytes: the reader loops")
			}
			rec, err := rd.Next()
			if err == io.EOF {
				return
			}
			var e *Error
			if errors.As(err, &e) {
				continue
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if len(rec.Bytes) == 0 || !bytes.Contains(data, rec.Bytes) {
				t.Fatalf("record %q is not a piece of the input", rec.Bytes)
			}
		}
	})
}
