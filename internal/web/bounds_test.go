package web

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/query"
	"github.com/defender-intake/defender-intake/internal/store"
)

// cpuTime is the CPU time of the whole process so far (every thread,
// DuckDB's included).
func cpuTime(t testing.TB) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// assertIdle fails when the process burns CPU over an idle window: a query
// still running inside DuckDB after its request ended (timeout, client
// gone) keeps one core or more busy.
func assertIdle(t *testing.T, window time.Duration) {
	t.Helper()
	before := cpuTime(t)
	time.Sleep(window) // measuring CPU over wall time needs the time to pass
	if used := cpuTime(t) - before; used > window/4 {
		t.Errorf("the process used %s of CPU in an idle window of %s: query work keeps running", used, window)
	}
}

type boundsServer struct {
	url    string
	client *http.Client
}

func newBoundsServer(t *testing.T, st *store.Store, cfg Config) boundsServer {
	t.Helper()
	srv := httptest.NewServer(New(Options{Store: st, Config: cfg, Now: func() time.Time { return now }}))
	t.Cleanup(srv.Close)
	return boundsServer{url: srv.URL, client: srv.Client()}
}

// get asks path and returns the status and the decoded answer; status 0
// when ctx ended first.
func (b boundsServer) get(ctx context.Context, path string) (int, map[string]any, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", b.url+path, nil)
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s: %d, body not JSON: %w", path, resp.StatusCode, err)
	}
	return resp.StatusCode, m, nil
}

// Each reported hostile request, answered in bounded time with the
// expected status.
func TestHostileRequests(t *testing.T) {
	st := loadedStore(t, 3000)
	srv := newBoundsServer(t, st, Config{QueryTimeout: 20 * time.Second})
	year := func(y int) string { return fmt.Sprintf("%04d-01-01T00:00:00Z", y) }
	tests := []struct {
		name   string
		path   string
		status int
		bound  time.Duration
		check  func(t *testing.T, m map[string]any)
	}{
		{"18-character wildcard query on 3,000 events", "/api/events?from=now-7d&q=" + url.QueryEscape("*a*a*a*a*a*a*a*a*b"), 200, 5 * time.Second, nil},
		{"same, histogram", "/api/histogram?from=now-7d&q=" + url.QueryEscape("*a*a*a*a*a*a*a*a*b"), 200, 5 * time.Second, nil},
		{"same, top values", "/api/fields/user.name/top?from=now-7d&q=" + url.QueryEscape("*a*a*a*a*a*a*a*a*b"), 200, 5 * time.Second, nil},
		{"wildcards on a field", "/api/events?from=now-7d&q=" + url.QueryEscape("process.command_line:*a*a*a*a*a*a*a*a*a*a*a*a*b"), 200, 5 * time.Second, nil},
		{"too many wildcards", "/api/events?q=" + url.QueryEscape(strings.Repeat("*a", query.MaxWildcards+1)), 400, time.Second, func(t *testing.T, m map[string]any) {
			if !strings.Contains(m["error"].(string), "wildcards") || m["position"] == nil {
				t.Errorf("error: %v", m)
			}
		}},
		{"too many terms reading raw records", "/api/events?q=" + url.QueryEscape(strings.Repeat("*zq?1* OR ", 800)+"x"), 400, time.Second, func(t *testing.T, m map[string]any) {
			if !strings.Contains(m["error"].(string), "terms that read text") {
				t.Errorf("error: %v", m)
			}
		}},
		{"16 wildcard terms", "/api/histogram?from=now-7d&q=" + url.QueryEscape(strings.Repeat("*zq?1* OR ", query.MaxTextTerms-1)+"*a*a*a*a*b*"), 200, 5 * time.Second, nil},
		{"histogram over 300 years (a panic before)", "/api/histogram?from=" + year(1900) + "&to=" + year(2200), 400, time.Second, func(t *testing.T, m map[string]any) {
			if !strings.Contains(m["error"].(string), "1900") || !strings.Contains(m["hint"].(string), "1970") {
				t.Errorf("error: %v", m)
			}
		}},
		{"histogram over the whole searchable range", "/api/histogram?buckets=1000&from=" + year(1970) + "&to=" + year(2200), 200, 5 * time.Second, func(t *testing.T, m map[string]any) {
			if n := len(m["buckets"].([]any)); n > 1000 || m["interval"] != "3M" {
				t.Errorf("%d buckets of %v", n, m["interval"])
			}
		}},
		{"histogram, 40 buckets over 36 years", "/api/histogram?buckets=40&from=" + year(1990) + "&to=" + year(2026), 200, 5 * time.Second, func(t *testing.T, m map[string]any) {
			b := m["buckets"].([]any)
			if len(b) > 40 || m["interval"] != "1y" || len(b) != 36 {
				t.Errorf("%d buckets of %v", len(b), m["interval"])
			}
			var total float64
			for _, x := range b {
				total += x.(map[string]any)["count"].(float64)
			}
			if total != 3000 {
				t.Errorf("%v events in the buckets, want 3000", total)
			}
		}},
		{"histogram, one bucket over the whole range", "/api/histogram?buckets=1&from=" + year(1970) + "&to=" + year(2200), 200, 5 * time.Second, func(t *testing.T, m map[string]any) {
			b := m["buckets"].([]any)
			if len(b) != 1 || b[0].(map[string]any)["count"].(float64) != 3000 {
				t.Errorf("buckets %v", b)
			}
		}},
		{"absurd bucket count", "/api/histogram?buckets=1000000", 400, time.Second, nil},
		{"events to 2700, no count", "/api/events?count=false&to=2700-01-01", 400, time.Second, func(t *testing.T, m map[string]any) {
			if !strings.Contains(m["error"].(string), "2700") {
				t.Errorf("error: %v", m)
			}
		}},
		{"events to 2199, no count", "/api/events?count=false&limit=500&to=2199-12-31", 200, 5 * time.Second, func(t *testing.T, m map[string]any) {
			if n := len(m["events"].([]any)); n == 0 {
				t.Errorf("%d events", n)
			}
		}},
		{"events over the whole range, nothing found", "/api/events?count=false&q=nowhere&from=" + year(1970) + "&to=" + year(2200), 200, 5 * time.Second, nil},
		{"events from year 1", "/api/events?from=0001-01-01", 400, time.Second, nil},
		{"top values to 9999", "/api/fields/host.name/top?to=9999-12-31", 400, time.Second, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tc.bound)
			defer cancel()
			start := time.Now()
			status, m, err := srv.get(ctx, tc.path)
			if err != nil {
				t.Fatalf("no answer within %s (%s): %v", tc.bound, time.Since(start), err)
			}
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, m)
			}
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
	assertIdle(t, 2*time.Second)
}

// Searches beyond MaxQueries wait QueueWait for a slot, then get 503 with
// Retry-After; cheap calls (fields, one event) are not limited.
func TestQuerySlots(t *testing.T) {
	st := loadedStore(t, 100)
	s, h := build(Options{Store: st, Config: Config{MaxQueries: 2, QueueWait: 50 * time.Millisecond}, Now: func() time.Time { return now }})
	srv := httptest.NewServer(h)
	defer srv.Close()
	b := boundsServer{url: srv.URL, client: srv.Client()}
	s.slots <- struct{}{}
	s.slots <- struct{}{} // two searches running
	for _, p := range []string{"/api/events", "/api/histogram", "/api/fields/host.name/top", "/api/stats"} {
		req, _ := http.NewRequest("GET", srv.URL+p, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s with every slot taken: %d, Retry-After %q", p, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if status, _, _ := b.get(context.Background(), "/api/fields"); status != 200 {
		t.Errorf("fields: %d", status)
	}
	<-s.slots
	if status, m, _ := b.get(context.Background(), "/api/stats"); status != 200 {
		t.Errorf("with a free slot: %d %v", status, m)
	}
	if len(s.slots) != 1 {
		t.Errorf("%d slots taken after the requests, want 1", len(s.slots))
	}
}

// randomQuery is a query of the kinds analysts and attackers write:
// fields, words, phrases, and pathological wildcards.
func randomQuery(rng *rand.Rand) string {
	words := []string{"cmd", "powershell.exe", "alice", "a", "203.0.113.7", "whoami", "zz"}
	var parts []string
	for range 1 + rng.IntN(3) {
		w := words[rng.IntN(len(words))]
		switch rng.IntN(7) {
		case 0:
			parts = append(parts, "process.name:"+w)
		case 1:
			parts = append(parts, `"`+w+` /c"`)
		case 2: // *a*a*a...b, up to past the limit
			parts = append(parts, strings.Repeat("*a", 1+rng.IntN(query.MaxWildcards+4))+"b")
		case 3:
			parts = append(parts, "process.command_line:*"+strings.Repeat("?", rng.IntN(40))+w+"*")
		case 4:
			parts = append(parts, "message:"+w)
		case 5:
			parts = append(parts, "NOT user.name:"+w+"*")
		default:
			parts = append(parts, w)
		}
	}
	op := []string{" ", " OR ", " AND "}[rng.IntN(3)]
	return strings.Join(parts, op)
}

// randomRange is a valid range (1 µs to the whole searchable span) or,
// one time in five, an absurd one.
func randomRange(rng *rand.Rand) (from, to string, valid bool) {
	lo, hi := store.MinTime.UnixMicro(), store.MaxTime.UnixMicro()
	if rng.IntN(5) == 0 {
		bad := []string{"0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2700-01-01T00:00:00Z", "9999-12-31T00:00:00Z"}
		return bad[rng.IntN(len(bad))], "2200-01-02T00:00:00Z", false
	}
	var a, b int64
	switch rng.IntN(3) {
	case 0: // anything
		a, b = lo+rng.Int64N(hi-lo), lo+rng.Int64N(hi-lo)
	case 1: // around the events
		a = now.Add(-30*24*time.Hour).UnixMicro() + rng.Int64N(int64(30*24*time.Hour/time.Microsecond))
		b = a + 1 + rng.Int64N(int64(40*24*time.Hour/time.Microsecond))
	default: // tiny
		a = now.Add(-7*24*time.Hour).UnixMicro() + rng.Int64N(int64(7*24*time.Hour/time.Microsecond))
		b = a + 1 + rng.Int64N(5_000_000)
	}
	if a > b {
		a, b = b, a
	}
	if a == b {
		b++
	}
	b = min(b, hi)
	f := func(us int64) string { return time.UnixMicro(us).UTC().Format(time.RFC3339Nano) }
	return f(a), f(b), true
}

// A seeded property test: random queries and ranges (pathological
// wildcards, huge and tiny ranges, absurd bucket counts, clients that
// leave early) against a populated store each answer within their bound,
// with 200 when valid and 400 when not, and leave the server idle.
func TestRandomQueriesAreBounded(t *testing.T) {
	st := loadedStore(t, 3000)
	const timeout = 10 * time.Second
	srv := newBoundsServer(t, st, Config{QueryTimeout: timeout})
	rng := rand.New(rand.NewPCG(12, 2026))
	var cpu [4]time.Duration
	for i := range 80 {
		from, to, valid := randomRange(rng)
		q := randomQuery(rng)
		v := url.Values{"q": {q}, "from": {from}, "to": {to}}
		var path string
		switch kind := rng.IntN(4); kind {
		case 0:
			v.Set("count", []string{"true", "false"}[rng.IntN(2)])
			v.Set("limit", fmt.Sprint(1+rng.IntN(500)))
			path = "/api/events?"
		case 1:
			n := 1 + rng.IntN(1000)
			if rng.IntN(6) == 0 {
				n, valid = []int{0, -5, 1001, 1 << 40}[rng.IntN(4)], false
			}
			v.Set("buckets", fmt.Sprint(n))
			path = "/api/histogram?"
		case 2:
			path = "/api/fields/" + []string{"user.name", "host.name", "process.pid"}[rng.IntN(3)] + "/top?"
		default:
			path = "/api/events?count=false&"
		}
		if strings.Count(q, "*")+strings.Count(q, "?") > 0 {
			for _, part := range strings.Fields(q) {
				if strings.Count(part, "*")+strings.Count(part, "?") > query.MaxWildcards {
					valid = false
				}
			}
		}
		leave := rng.IntN(8) == 0 // a client that leaves after 50 ms
		ctx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Second)
		if leave {
			cancel()
			ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
		}
		c0 := cpuTime(t)
		start := time.Now()
		status, m, err := srv.get(ctx, path+v.Encode())
		took := time.Since(start)
		cancel()
		cpu[0] += cpuTime(t) - c0
		switch {
		case leave:
			// nothing to check but that the server stops: see below
		case err != nil:
			t.Errorf("#%d %s%s: %v after %s", i, path, v.Encode(), err, took)
		case valid && status != 200, !valid && status != 400:
			t.Errorf("#%d %s%s: status %d (valid %v): %v", i, path, v.Encode(), status, valid, m)
		case status == 200 && strings.HasPrefix(path, "/api/histogram"):
			asked, _ := strconv.Atoi(v.Get("buckets"))
			if n := len(m["buckets"].([]any)); n < 1 || n > asked {
				t.Errorf("#%d: %d buckets for buckets=%s", i, n, v.Get("buckets"))
			}
		}
		if took > timeout+5*time.Second {
			t.Errorf("#%d %s%s: took %s", i, path, v.Encode(), took)
		}
	}
	t.Logf("80 requests: %s of CPU", cpu[0])
	assertIdle(t, 2*time.Second)
}
