package envelope_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	"github.com/defender-intake/defender-intake/internal/envelope/envelopetest"
)

// An input whose lines end with a bare "\r" (old Mac exports) is read as
// lines: a damaged line is one dead letter, not the rest of the input
// with every record after it. The hostile mixes, with their line ends
// made bare "\r", give the same records and bad lines as with "\n". (A
// record spread over lines has "\n" where the input has "\r".) Read one
// byte at a time too, so that a "\r" ends a read before its "\n" is known.
func TestReaderBareCRLineEnds(t *testing.T) {
	for seed := range uint64(500) {
		rng := rand.New(rand.NewPCG(seed, 14))
		m := envelopetest.NewMix(rng, randomRecords(rng, 1+rng.IntN(12)))
		in := bytes.ReplaceAll(bytes.ReplaceAll(m.Input, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r"))
		var r io.Reader = bytes.NewReader(in)
		if seed%5 == 0 {
			r = iotest.OneByteReader(r)
		}
		recs, bad, _ := read(t, r)
		if !equal(recs, m.Records) || !equal(bad, m.Bad) {
			t.Fatalf("seed %d: input\n%q\nrecords %d, want %d: %q\nbad %q\nwant bad %q",
				seed, in, len(recs), len(m.Records), recs, bad, m.Bad)
		}
	}
	// "\r\n" read in two reads is a "\r\n" line end, not a bare "\r".
	recs, bad, _ := read(t, iotest.OneByteReader(bytes.NewReader([]byte("{\"a\":1}\r\n{\"a\":\r\n{\"a\":2}\r\n"))))
	if len(recs) != 2 || len(bad) != 1 || string(bad[0]) != `{"a":` {
		t.Fatalf("CRLF: records %q, bad %q", recs, bad)
	}
}
