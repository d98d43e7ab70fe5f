package envelope_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/defender-intake/defender-intake/internal/envelope"
)

// A compressed file or UTF-16 text given as input is not JSON: its first
// error says what it is and what to do, instead of only "found byte 0x1f".
func TestNotTextInputIsNamed(t *testing.T) {
	const text = "{\"a\":1}\n{\"a\":2}\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(text))
	zw.Close()
	u16 := []byte{0xff, 0xfe}
	for _, c := range utf16.Encode([]rune(text)) {
		u16 = append(u16, byte(c), byte(c>>8))
	}
	cases := []struct {
		name  string
		input []byte
		want  string
	}{
		{"gzip", gz.Bytes(), "gzip-compressed"},
		{"UTF-16", u16, "UTF-16 text"},
		{"zip", []byte("PK\x03\x04\x14\x00junk"), "zip archive"},
		{"junk", []byte("hello\n"), ""},
	}
	for _, c := range cases {
		rd := envelope.NewReader(bytes.NewReader(c.input))
		_, err := rd.Next()
		var e *envelope.Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: %v, want an *Error", c.name, err)
		}
		if c.want == "" && strings.Contains(e.Reason, "(") || !strings.Contains(e.Reason, c.want) {
			t.Errorf("%s: reason %q, want it to name %q", c.name, e.Reason, c.want)
		}
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err == nil {
				t.Fatalf("%s: record %q", c.name, rec.Bytes)
			}
		}
	}
}
