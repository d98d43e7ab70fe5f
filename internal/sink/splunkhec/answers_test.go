package splunkhec

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

// HEC answers some configuration faults (an index the token may not
// write to, the channel, acknowledgement off) with HTTP 400 and its own
// code: they hold the events like a 401, they do not dead-letter every
// event one by one. An invalid event (code 6) is still dead-lettered.
func TestConfigRefusalsHoldEvents(t *testing.T) {
	cases := []struct {
		answer string
		hold   bool
	}{
		{`{"text":"Incorrect index","code":7,"invalid-event-number":0}`, true},
		{`{"text":"Data channel is missing","code":10}`, true},
		{`{"text":"Invalid data channel","code":11}`, true},
		{`{"text":"ACK is disabled","code":14}`, true},
		{`{"text":"No data","code":5}`, true},
		{`{"text":"Invalid data format","code":6,"invalid-event-number":0}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.answer, func(t *testing.T) {
			h := &hec{fail: func(_ int, w http.ResponseWriter, _ []map[string]any) bool {
				http.Error(w, tc.answer, http.StatusBadRequest)
				return true
			}}
			srv := httptest.NewServer(h)
			defer srv.Close()
			s := openSink(t, srv.URL, nil)
			docs := forwardtest.Docs(8, "cfg")
			err := s.Write(context.Background(), docs)
			_, requests, bad := h.accepted()
			if len(bad) > 0 {
				t.Fatalf("format problems: %v", bad)
			}
			dead := forwardtest.DeadLetters(t, s.cfg.DeadLetter)
			if !tc.hold {
				if len(dead) != len(docs) || err != nil {
					t.Fatalf("invalid events: %d dead letters, err %v; want %d, nil", len(dead), err, len(docs))
				}
				return
			}
			if n := len(sink.FailedIndices(err, len(docs))); n != len(docs) || !errors.Is(err, sink.ErrTargetUnavailable) {
				t.Fatalf("%d of %d events handed back, err %v; want all, the target unavailable", n, len(docs), err)
			}
			if len(dead) != 0 || requests != 1 {
				t.Errorf("%d dead letters after %d requests, want none after one", len(dead), requests)
			}
			if s.Unavailable() == nil {
				t.Error("the sink does not say its target refuses it")
			}
		})
	}
}

// The indexers' acknowledgement is asked after HEC took the events: a
// poll that fails, even with a 400 (a channel HEC forgot, ack turned off),
// sends the events again (a duplicate at worst), it never narrows the
// request down nor dead-letters events HEC has.
func TestAckPollFailureResends(t *testing.T) {
	answers := []struct {
		code int
		body string
	}{
		{400, `{"text":"Invalid data channel","code":11}`},
		{400, `{"text":"ACK is disabled","code":14}`},
		{400, `{"text":"Invalid request","code":6}`},
		{500, `{"text":"Internal server error","code":8}`},
		{200, `<html>proxy</html>`},
	}
	for _, a := range answers {
		t.Run(fmt.Sprint(a.code, a.body), func(t *testing.T) {
			h := &hec{useAck: true, acks: map[int64]int{}, ackFail: func(w http.ResponseWriter) bool {
				w.WriteHeader(a.code)
				fmt.Fprint(w, a.body)
				return true
			}}
			srv := httptest.NewServer(h)
			defer srv.Close()
			s := openSink(t, srv.URL, func(c *Config) { c.Ack, c.AckTimeout = true, time.Second })
			docs := forwardtest.Docs(8, "ack")
			err := s.Write(context.Background(), docs)
			events, requests, bad := h.accepted()
			if len(bad) > 0 {
				t.Fatalf("format problems: %v", bad)
			}
			if n := len(sink.FailedIndices(err, len(docs))); n != len(docs) {
				t.Errorf("%d of %d events handed back (err %v), want all: their indexing is not known", n, len(docs), err)
			}
			if dead := forwardtest.DeadLetters(t, s.cfg.DeadLetter); len(dead) != 0 {
				t.Errorf("%d events HEC took were dead-lettered (%v)", len(dead), dead[0])
			}
			if requests != 1 || len(events) != len(docs) {
				t.Errorf("%d event requests, %d events at HEC; want 1 and %d (no narrowing)", requests, len(events), len(docs))
			}
		})
	}
}
