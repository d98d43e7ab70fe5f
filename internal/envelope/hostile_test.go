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
