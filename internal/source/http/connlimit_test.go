package http_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	httpsrc "github.com/defender-intake/defender-intake/internal/source/http"
)

// Past max_connections open connections, a new connection takes the
// place of the one idle the longest; when none is idle (all busy, or
// slow clients), it is answered 503 with Retry-After at once. Idle
// keep-alives held cheaply by one client ran the process out of file
// descriptors: /healthz and every other client went unanswered.
func TestConnectionLimit(t *testing.T) {
	c := *httpsrc.DefaultConfig()
	c.MaxConnections, c.MinBodyRateKB = 4, 0
	r := startRig(t, c)

	// All busy: slow bodies.
	slow := make([]*slowClient, c.MaxConnections)
	for i := range slow {
		slow[i] = dialSlow(t, r.addr)
		slow[i].write(t, bodyHead(dripBytes))
		slow[i].expectContinue(t)
		slow[i].drip(strings.Repeat(" ", dripBytes), dripEvery)
	}
	got := r.post(t, deliverytest.Records(1, "over")[0], nil)
	if got.code != http.StatusServiceUnavailable || got.retryAfter == "" || !strings.Contains(got.Message, "connections") {
		t.Fatalf("connection past max_connections answered %d %q (Retry-After %q), want 503 with Retry-After", got.code, got.Message, got.retryAfter)
	}
	for i, s := range slow {
		if err := s.writeErr.Load(); err != nil {
			t.Fatalf("slow client %d stopped sending (%v): the test proves nothing", i, err)
		}
		s.close()
	}

	// All idle: keep-alives that each sent one request. The server
	// notices the slow clients' departure on its own time: poll, bounded.
	idle := make([]net.Conn, 0, c.MaxConnections)
	for start := time.Now(); len(idle) < c.MaxConnections; {
		conn, code := keepAlive(t, r.addr, deliverytest.Records(1, "idle")[0])
		if code == http.StatusOK {
			idle = append(idle, conn)
			continue
		}
		conn.Close()
		if time.Since(start) > 20*time.Second {
			t.Fatalf("keep-alive request answered %d once the slow clients left", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	conn, code := keepAlive(t, r.addr, deliverytest.Records(1, "new")[0])
	defer conn.Close()
	if code != http.StatusOK {
		t.Fatalf("new connection with %d idle ones open answered %d, want 200 (an idle one makes room)", c.MaxConnections, code)
	}
	// One idle connection was closed to make room, before the answer:
	// its EOF is there already; the others have nothing to read.
	var closed []int
	for i, c := range idle {
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err == io.EOF {
			closed = append(closed, i)
		}
	}
	if len(closed) != 1 {
		t.Errorf("idle connections %v closed to make room for one, want exactly one", closed)
	}
	for _, c := range idle {
		c.Close()
	}
	if n := len(r.docs(t)); n != c.MaxConnections+1 {
		t.Errorf("%d documents, want %d", n, c.MaxConnections+1)
	}
}

// keepAlive sends one POST on a new connection that it leaves open, and
// returns the connection and the answer's status.
func keepAlive(t *testing.T, addr string, body []byte) (net.Conn, int) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	head := "POST /ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n"
	if _, err := io.WriteString(conn, head+string(body)); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(newReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return conn, resp.StatusCode
}

// Connections that drip their request head (slowloris) do not keep
// others out at max_connections: a new connection takes the place of the
// one that has been sending its head the longest, once that is over a
// second, and the request it carries is served.
func TestSlowHeadsMakeRoom(t *testing.T) {
	c := *httpsrc.DefaultConfig()
	// Not the header timeout: making room must.
	c.MaxConnections, c.ReadHeaderTimeout = 4, time.Minute
	r := startRig(t, c)
	loris := make([]*slowClient, c.MaxConnections)
	for i := range loris {
		loris[i] = dialSlow(t, r.addr)
		loris[i].write(t, "POST /ingest HTTP/1.1\r\nHost: x\r\n")
		loris[i].drip("X-Pad: "+strings.Repeat("a", dripBytes), dripEvery)
	}
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		conn, code := keepAlive(t, r.addr, deliverytest.Records(1, "past-loris")[0])
		conn.Close()
		if code == http.StatusOK {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("still answered %d with %d connections dripping their heads", code, c.MaxConnections)
		}
	}
	// The one closed was closed before the answer: its EOF is there
	// already; the others have nothing to read.
	closed := 0
	for _, l := range loris {
		l.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := l.br.ReadByte(); err == io.EOF {
			closed++
		}
	}
	if closed == 0 {
		t.Error("no slow-head connection was closed to make room")
	}
	if n := len(r.docs(t)); n != 1 {
		t.Errorf("%d documents, want 1", n)
	}
}
