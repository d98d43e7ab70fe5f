package splunkhec

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

// Without ack, a collector that takes the events and answers 200, then
// closes the connection in the middle of the answer's body, has them
// once: the 200 is the acknowledgement, they are not sent again.
func TestReplyCutAfter200(t *testing.T) {
	h := &hec{}
	srv := httptest.NewServer(forwardtest.CutReply(h))
	defer srv.Close()
	s := openSink(t, srv.URL, nil)
	docs := forwardtest.Docs(4, "cut")
	if err := s.Write(context.Background(), docs); err != nil {
		t.Fatalf("Write: %v", err)
	}
	events, requests, bad := h.accepted()
	if len(bad) > 0 {
		t.Fatalf("format problems: %v", bad)
	}
	if len(events) != len(docs) || requests != 1 {
		t.Errorf("%d events stored in %d requests, want %d in one", len(events), requests, len(docs))
	}
}
