package envelope_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	"github.com/defender-intake/defender-intake/internal/envelope"
	"github.com/defender-intake/defender-intake/internal/envelope/envelopetest"
)

// randomRecords returns n compact records with text that needs escapes,
// non-ASCII text, and numbers, literals and nesting of every kind.
func randomRecords(rng *rand.Rand, n int) [][]byte {
	texts := []string{`plain`, `quote \" inside`, `back\\slash`, `tab\tand\nnewline`, `é ü 中文 🙂`, `\u00e9\ud83d\ude42`, `{\"looks\":[1,\"like\"]}`, `]},{[`}
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"id":%d,"category":"AdvancedHunting-DeviceEvents","properties":{"s":"%s","n":[%d,-2.5,1e3,true,false,null],"o":{"t":"%s","e":{},"a":[]}}}`,
			i, texts[rng.IntN(len(texts))], rng.IntN(1000), texts[rng.IntN(len(texts))])
	}
	return out
}

// read returns what the reader makes of input: the records and the raw
// bytes of the errors, in order.
func read(t *testing.T, r io.Reader) (recs, bad [][]byte, order []bool) {
	rd := envelope.NewReader(r)
	for range 100000 {
		rec, err := rd.Next()
		if err == io.EOF {
			return recs, bad, order
		}
		var e *envelope.Error
		if errors.As(err, &e) {
			bad = append(bad, e.Raw)
			order = append(order, false)
			continue
		}
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		recs = append(recs, bytes.Clone(rec.Bytes))
		order = append(order, true)
	}
	t.Fatal("reader does not terminate")
	return
}

// Thousands of seeded mixes of valid records in every shape with lines cut
// short, junk and invalid UTF-8 between them: every valid record comes out
// exactly once, in order, and every bad line comes out as one error whose
// raw bytes are the line's. The input is also read one byte per Read, so
// that every value crosses the reader's buffer boundary somewhere.
func TestReaderHostileMixes(t *testing.T) {
	mixes := 3000
	if testing.Short() {
		mixes = 300
	}
	for seed := range uint64(mixes) {
		rng := rand.New(rand.NewPCG(seed, 11))
		m := envelopetest.NewMix(rng, randomRecords(rng, 1+rng.IntN(12)))
		var r io.Reader = bytes.NewReader(m.Input)
		if seed%10 == 0 {
			r = iotest.OneByteReader(r)
		}
		recs, bad, _ := read(t, r)
		if !equal(recs, m.Records) || !equal(bad, m.Bad) {
			t.Fatalf("seed %d: input\n%s\nrecords %d, want %d: %q\nbad %q\nwant bad %q",
				seed, m.Input, len(recs), len(m.Records), recs, bad, m.Bad)
		}
	}
}

func equal(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// Reading resumed at the Position after any item of a hostile mix gives
// exactly the items that followed it (with their lines).
func TestReaderResumesAtPosition(t *testing.T) {
	mixes := 300
	if testing.Short() {
		mixes = 30
	}
	type item struct {
		text string
		pos  envelope.Position
	}
	readFrom := func(in []byte, p envelope.Position) []item {
		rd := envelope.NewReaderAt(bytes.NewReader(in[p.Offset:]), p)
		var items []item
		for range 100000 {
			rec, err := rd.Next()
			if err == io.EOF {
				return items
			}
			var e *envelope.Error
			switch {
			case errors.As(err, &e):
				items = append(items, item{fmt.Sprintf("error %d %q", e.Line, e.Raw), rd.Position()})
			case err != nil:
				t.Fatal(err)
			default:
				items = append(items, item{fmt.Sprintf("record %d %q", rec.Line, rec.Bytes), rd.Position()})
			}
		}
		t.Fatal("reader does not terminate")
		return nil
	}
	for seed := range uint64(mixes) {
		rng := rand.New(rand.NewPCG(seed, 12))
		m := envelopetest.NewMix(rng, randomRecords(rng, 1+rng.IntN(12)))
		all := readFrom(m.Input, envelope.Position{Line: 1})
		for k, it := range all {
			rest := readFrom(m.Input, it.pos)
			if it.pos.Items > len(rest) {
				t.Fatalf("seed %d: resuming after item %d at %+v: only %d items", seed, k, it.pos, len(rest))
			}
			rest = rest[it.pos.Items:]
			want := all[k+1:]
			if len(rest) != len(want) {
				t.Fatalf("seed %d: resuming after item %d at %+v: %d items, want %d\n%s", seed, k, it.pos, len(rest), len(want), m.Input)
			}
			for i := range want {
				if rest[i].text != want[i].text {
					t.Fatalf("seed %d: resuming after item %d at %+v: item %s, want %s\n%s", seed, k, it.pos, rest[i].text, want[i].text, m.Input)
				}
			}
		}
	}
}
