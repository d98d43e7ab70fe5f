package sekoia

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

// An intake that stores the records and answers 200, then closes the
// connection in the middle of the answer's body: the 200 is the
// acknowledgement, so the records are delivered once, not sent again
// (once per attempt, for as long as the intake does it).
func TestReplyCutAfter200(t *testing.T) {
	in := &intake{t: t}
	srv := httptest.NewServer(forwardtest.CutReply(in))
	defer srv.Close()
	s := open(t, srv.URL, nil)
	docs := forwardtest.Docs(4, "cut")
	if err := s.Write(context.Background(), docs); err != nil {
		t.Fatalf("Write: %v", err)
	}
	recs, requests, bad := in.accepted()
	if len(bad) > 0 {
		t.Fatalf("format problems: %v", bad)
	}
	if len(recs) != len(docs) || requests != 1 {
		t.Errorf("%d records stored in %d requests, want %d in one", len(recs), requests, len(docs))
	}
}
