package forwardtest

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/defender-intake/defender-intake/internal/sink"
)

// DownAtStart checks that a target which is down (503) or refuses the
// sink (401) when the sink opens does not stop it from opening: a sink
// that sets the target up at start (a table, an index template) does it
// at a later Write. Meanwhile Writes hand every document back (nothing
// dead-lettered or delivered; a 401 matches sink.ErrTargetUnavailable);
// once the target answers, the documents are delivered exactly once.
func DownAtStart(t *testing.T, setup func(t *testing.T) Outage) {
	for _, code := range []int{503, 401} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			o := setup(t)
			gate := &Gate{Next: o.Target}
			gate.Code.Store(int32(code))
			srv := httptest.NewServer(gate)
			defer srv.Close()
			s := o.Open(srv.URL) // fails the test when Open fails
			defer s.Close()
			prefix := fmt.Sprintf("start%d", code)
			docs := Docs(6, prefix)
			err := s.Write(context.Background(), docs)
			if n := len(sink.FailedIndices(err, len(docs))); n != len(docs) {
				t.Fatalf("Write while the target answers %d: %d of %d handed back (err %v), want all", code, n, len(docs), err)
			}
			if code == 401 && !errors.Is(err, sink.ErrTargetUnavailable) {
				t.Errorf("Write while the target answers 401 = %v, does not match sink.ErrTargetUnavailable", err)
			}
			if dl := DeadLetters(t, o.DeadLetter); len(dl) != 0 {
				t.Fatalf("%d documents dead-lettered for a %d", len(dl), code)
			}
			gate.Code.Store(0)
			if err := s.Write(context.Background(), docs); err != nil {
				t.Fatalf("Write once the target answers: %v", err)
			}
			var got []string
			for _, h := range o.Delivered() {
				if strings.HasPrefix(h, prefix+"-") {
					got = append(got, h)
				}
			}
			slices.Sort(got)
			if len(got) != len(docs) || len(slices.Compact(slices.Clone(got))) != len(docs) {
				t.Errorf("delivered %v, want each of %d documents once", got, len(docs))
			}
		})
	}
}
