package pipeline

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/defender-intake/defender-intake/internal/envelope/envelopetest"
	"github.com/defender-intake/defender-intake/internal/sink"
)

// A message body (Event Hub, Kafka) damaged in several places: each bad
// stretch is its own dead letter whose raw bytes are exactly the body's,
// in order, and every valid record becomes a document. (The bad lines of
// a body were one dead letter whose raw joined them with "\n": not the
// body's bytes when it used "\r\n", and one entry for many stretches.)
func TestDamagedBodyDeadLettersEachBadStretch(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 13))
		recs := make([][]byte, 1+rng.IntN(10))
		for i := range recs {
			recs[i] = fmt.Appendf(nil, `{"n":%d,"s":"text \"quoted\"","o":{"a":[1,2],"e":{}}}`, i)
		}
		m := envelopetest.NewMix(rng, recs)
		ms := &memSink{}
		dl := &memDead{}
		opts := testOptions([]sink.Sink{ms}, dl)
		opts.Split = nil // envelope.SplitBody
		if err := New(opts).Run(context.Background(), []Source{&sliceSource{name: "s", bodies: []string{string(m.Input)}}}); err != nil {
			t.Fatal(err)
		}
		if got := len(ms.snapshot()); got != len(m.Records) {
			t.Fatalf("seed %d: %d documents, want %d\n%s", seed, got, len(m.Records), m.Input)
		}
		if len(dl.entries) != len(m.Bad) {
			t.Fatalf("seed %d: %d dead letters, want %d (one per bad stretch)\n%q", seed, len(dl.entries), len(m.Bad), m.Input)
		}
		for i, e := range dl.entries {
			if string(e.Raw) != string(m.Bad[i]) || e.Stage != "envelope" || e.Offset != 0 {
				t.Fatalf("seed %d: dead letter %d: %q (stage %s, offset %d), want %q", seed, i, e.Raw, e.Stage, e.Offset, m.Bad[i])
			}
		}
	}
}
