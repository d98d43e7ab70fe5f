package forwardtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward"
)

// Outage is one HTTP sink under TargetOutage.
type Outage struct {
	// Target accepts the sink's requests: a fake of the target, or a
	// proxy to a real one.
	Target http.Handler
	// Open opens the sink on url, with its dead-letter file at DeadLetter.
	Open       func(url string) sink.Sink
	DeadLetter string
	// Delivered returns the host.name of each document the target
	// stored, once per copy.
	Delivered func() []string
}

// Gate stands in front of a target: while Code is set it answers every
// request with that status (a wrong key, grant or URL), else it passes
// the request on. A 3xx points to MovedPath, which answers any request
// 200 with a page (a login page), as a proxy or a moved service would.
type Gate struct {
	Next    http.Handler
	Code    atomic.Int32
	Refused atomic.Int32 // requests answered with Code
	// Followed counts the requests that followed a redirect.
	Followed atomic.Int32
	// Echo, while set (and Code is not), answers every request with that
	// status and a body that repeats the request: its headers and body,
	// as some proxies and debugging targets do.
	Echo   atomic.Int32
	Echoed atomic.Int32
}

// MovedPath is where the Gate's redirects point.
const MovedPath = "/moved-to-login"

func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == MovedPath {
		io.Copy(io.Discard, r.Body)
		g.Followed.Add(1)
		io.WriteString(w, "<html><body>Sign in</body></html>")
		return
	}
	if c := int(g.Code.Load()); c != 0 {
		io.Copy(io.Discard, r.Body)
		g.Refused.Add(1)
		if c/100 == 3 {
			w.Header().Set("Location", MovedPath)
		}
		http.Error(w, fmt.Sprintf(`{"error":"refused with %d"}`, c), c)
		return
	}
	if c := int(g.Echo.Load()); c != 0 {
		body, _ := io.ReadAll(r.Body)
		g.Echoed.Add(1)
		w.WriteHeader(c)
		fmt.Fprintf(w, "%s: %s %s\n", EchoMarker, r.Method, r.URL)
		r.Header.Write(w)
		w.Write(body)
		return
	}
	g.Next.ServeHTTP(w, r)
}

// EchoMarker starts the body of a Gate's echo.
const EchoMarker = "refused request"

// OutageCodes are the statuses by which a target refuses a request as a
// whole, as TargetOutage tries them: credentials, permissions, a wrong
// URL or method, and redirects (not followed).
var OutageCodes = []int{401, 403, 404, 407, 405, 410, 415, 301, 302, 303, 307, 308}

// TargetUnavailable is the sink_target_unavailable gauge of sink name
// (-1 when absent).
func TargetUnavailable(t testing.TB, name string) float64 {
	mfs, err := forward.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "defender_intake_sink_target_unavailable" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "sink" && l.GetValue() == name {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}

// TargetOutage checks that a target refusing the sink's requests as a
// whole (OutageCodes) is an outage, not bad data: every Write
// hands all its documents back (matching sink.ErrTargetUnavailable) after
// one request, nothing is dead-lettered or delivered, the gauge and
// Unavailable say so; once the target accepts again, the retried
// documents are delivered exactly once and the sink is available again.
func TargetOutage(t *testing.T, setup func(t *testing.T) Outage) {
	for _, code := range OutageCodes {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			o := setup(t)
			gate := &Gate{Next: o.Target}
			srv := httptest.NewServer(gate)
			defer srv.Close()
			s := o.Open(srv.URL) // open while the target answers (some sinks create tables)
			defer s.Close()
			avail, ok := s.(sink.Availability)
			if !ok {
				t.Fatalf("%T does not implement sink.Availability", s)
			}
			gate.Code.Store(int32(code))
			prefix := fmt.Sprintf("outage%d", code)
			docs := Docs(30, prefix)
			const retries = 3 // as the pipeline would, with its backoff
			for i := 0; i < retries; i++ {
				err := s.Write(context.Background(), docs)
				if n := len(sink.FailedIndices(err, len(docs))); n != len(docs) {
					t.Fatalf("Write %d: %d of %d documents handed back (err %v), want all", i, n, len(docs), err)
				}
				if !errors.Is(err, sink.ErrTargetUnavailable) {
					t.Fatalf("Write %d: error %v does not match sink.ErrTargetUnavailable", i, err)
				}
			}
			if n := gate.Followed.Load(); n != 0 {
				t.Errorf("%d requests followed a %d redirect", n, code)
			}
			if n := gate.Refused.Load(); n != retries {
				t.Errorf("%d requests refused for %d Writes, want one each (no narrowing, no retries in Write)", n, retries)
			}
			if dl := DeadLetters(t, o.DeadLetter); len(dl) != 0 {
				t.Fatalf("%d documents dead-lettered for a %d: %v", len(dl), code, dl[0])
			}
			if got := o.Delivered(); len(got) != 0 {
				t.Fatalf("%d documents delivered through a %d", len(got), code)
			}
			if err := avail.Unavailable(); !errors.Is(err, sink.ErrTargetUnavailable) || !strings.Contains(err.Error(), fmt.Sprint(code)) {
				t.Errorf("Unavailable() = %v during the outage", err)
			}
			if g := TargetUnavailable(t, s.Name()); g != 1 {
				t.Errorf("sink_target_unavailable = %v during the outage, want 1", g)
			}

			gate.Code.Store(0)
			if err := s.Write(context.Background(), docs); err != nil {
				t.Fatalf("Write after the target recovered: %v", err)
			}
			if err := avail.Unavailable(); err != nil {
				t.Errorf("Unavailable() = %v after the target recovered", err)
			}
			if g := TargetUnavailable(t, s.Name()); g != 0 {
				t.Errorf("sink_target_unavailable = %v after the target recovered, want 0", g)
			}
			var got []string
			for _, h := range o.Delivered() {
				if strings.HasPrefix(h, prefix+"-") {
					got = append(got, h)
				}
			}
			slices.Sort(got)
			want := make([]string, len(docs))
			for i := range want {
				want[i] = fmt.Sprintf("%s-%d", prefix, i)
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("delivered %d documents (%v...), want each of %d once", len(got), got[:min(len(got), 5)], len(want))
			}
			if dl := DeadLetters(t, o.DeadLetter); len(dl) != 0 {
				t.Errorf("%d documents dead-lettered", len(dl))
			}
		})
	}
}
