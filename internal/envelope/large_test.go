package envelope_test

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/defender-intake/defender-intake/internal/envelope"
)

// MaxRecordBytes bounds a whole value and the blanks the reader holds on
// to, whatever the shape, and however the input is read (in large reads
// or in small ones): a record of many members each under the bound, or
// one with a huge run of blanks, was given whole (the buffer grew with
// it: 200 MB of blanks took 470 MB), and a record just over the bound
// passed when one read brought all of it. Blanks after records held back
// release them instead; what follows a refused record comes out.
func TestMaxRecordBytesBoundsWholeValues(t *testing.T) {
	over := envelope.MaxRecordBytes + 1<<20
	member := `"k":"` + strings.Repeat("x", 1<<20) + `",`
	manyMembers := `{` + strings.Repeat(member, over/len(member)+1) + `"a":1}`
	oneString := `{"a":"` + strings.Repeat("x", over) + `"}`
	blanks := strings.Repeat(" ", over)
	cases := []struct {
		name  string
		input string
		recs  []string
		bad   int // errors, at least one: an over-long line is reported in parts
	}{
		{"members each under the bound", manyMembers + "\n{\"n\":2}\n", []string{`{"n":2}`}, 1},
		{"one string over the bound", oneString + "\n{\"n\":2}\n", []string{`{"n":2}`}, 1},
		{"blanks inside a record", `{"b":1,` + blanks + `"a":2}` + "\n{\"n\":2}\n", []string{`{"n":2}`}, 1},
		{"blanks in an array held back", `[{"n":1},` + blanks + `{"n":2}]` + "\n{\"n\":3}\n", []string{`{"n":1}`, `{"n":2}`, `{"n":3}`}, 0},
		{"blanks in an envelope held back", `{"records":[{"n":1}]` + blanks + `}` + "\n{\"n\":3}\n", []string{`{"n":1}`, `{"n":3}`}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			modes := []bool{false}
			if c.name == "one string over the bound" {
				modes = append(modes, true) // where the size of the reads mattered
			}
			for _, small := range modes {
				var src io.Reader = strings.NewReader(c.input)
				if small {
					src = iotest.HalfReader(src)
				}
				rd := envelope.NewReader(src)
				var recs []string
				var raw bytes.Buffer
				bad := 0
				for {
					rec, err := rd.Next()
					if err == io.EOF {
						break
					}
					if e, ok := err.(*envelope.Error); ok {
						bad++
						raw.Write(e.Raw)
						continue
					}
					if err != nil {
						t.Fatal(err)
					}
					if len(rec.Bytes) > envelope.MaxRecordBytes {
						t.Fatalf("a record of %d bytes was given", len(rec.Bytes))
					}
					recs = append(recs, string(rec.Bytes))
				}
				if strings.Join(recs, " ") != strings.Join(c.recs, " ") || (bad == 0) != (c.bad == 0) {
					t.Fatalf("small reads %v: records %.80q, %d errors; want %q, %d", small, recs, bad, c.recs, c.bad)
				}
				if first, _, _ := strings.Cut(c.input, "\n"); c.bad > 0 && raw.String() != first {
					t.Errorf("the errors' raw bytes (%d) are not the bad line (%d)", raw.Len(), len(first))
				}
			}
		})
	}
}
