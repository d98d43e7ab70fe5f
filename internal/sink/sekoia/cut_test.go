package sekoia

import (
	"context"
	"net/http"
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
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		in.ServeHTTP(rec, r)
		w.Header().Set("Content-Length", "1000") // more than is sent: the client reads a cut body
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes()[:5])
	}))
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
