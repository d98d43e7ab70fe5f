package http_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/deadletter"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/sink"
	filesink "github.com/defender-intake/defender-intake/internal/sink/file"
	"github.com/defender-intake/defender-intake/internal/source"
	httpsrc "github.com/defender-intake/defender-intake/internal/source/http"
)

const token = "t0ken"

// rig is an HTTP source on 127.0.0.1 feeding a real pipeline that writes
// a file sink and a dead-letter file in a temporary directory.
type rig struct {
	addr, dir string
}

func startRig(t *testing.T, c httpsrc.Config) *rig {
	t.Helper()
	c.Token = config.NewSecret(token)
	return startRigAsIs(t, c)
}

// startRigAsIs starts a rig with c's token as given (none when unset).
func startRigAsIs(t *testing.T, c httpsrc.Config) *rig {
	t.Helper()
	dir := t.TempDir()
	c.Listen = "127.0.0.1:0"
	log := slog.New(slog.DiscardHandler)
	fs, err := filesink.Open("out", filesink.Config{Path: filepath.Join(dir, "out.ndjson")})
	if err != nil {
		t.Fatal(err)
	}
	dl, err := deadletter.OpenFile(filepath.Join(dir, "dead.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	src := httpsrc.New("in", c, source.Env{Logger: log})
	p := pipeline.New(pipeline.Options{Sinks: []sink.Sink{fs}, DeadLetter: dl, Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, []pipeline.Source{src}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	for start := time.Now(); src.Addr() == ""; time.Sleep(time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatal("source never listened")
		}
	}
	return &rig{addr: src.Addr(), dir: dir}
}

// reply is a decoded answer of the source.
type reply struct {
	code       int
	retryAfter string
	Message    string `json:"message"`
	Taken      *int   `json:"taken"`
	Refused    *int   `json:"refused"`
}

// post sends body with the given headers (and the token) and decodes the
// answer; a generous client timeout turns a hang into a failure.
func (r *rig) post(t *testing.T, body []byte, header map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+r.addr+"/ingest", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	out := reply{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("answer %d is not JSON: %v", resp.StatusCode, err)
	}
	return out
}

func (r *rig) docs(t *testing.T) [][]byte {
	return deliverytest.ReadNDJSON(t, filepath.Join(r.dir, "out.ndjson"))
}

func (r *rig) deadLetters(t *testing.T) []map[string]any {
	var out []map[string]any
	for _, l := range deliverytest.ReadNDJSON(t, filepath.Join(r.dir, "dead.ndjson")) {
		var e map[string]any
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// slowClient is a raw TCP client that sends its request a byte at a time.
type slowClient struct {
	conn net.Conn
	br   *bufio.Reader
	// sent counts the bytes written; writeErr is the first write error.
	sent     atomic.Int64
	writeErr atomic.Value
	stop     chan struct{}
	dripped  chan struct{}
}

func dialSlow(t *testing.T, addr string) *slowClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := &slowClient{conn: conn, br: bufio.NewReader(conn), stop: make(chan struct{}), dripped: make(chan struct{})}
	t.Cleanup(c.close)
	return c
}

// bodyHead is the head of a POST of n body bytes that waits for
// "100 Continue": the server sends it when the handler starts reading
// the body, which tells the client its request is being served.
func bodyHead(n int) string {
	return "POST /ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
		"\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " + itoa(n) + "\r\n\r\n"
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func (c *slowClient) write(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		t.Fatal(err)
	}
	c.sent.Add(int64(len(s)))
}

// expectContinue waits for the server to start reading the body.
func (c *slowClient) expectContinue(t *testing.T) {
	t.Helper()
	resp := c.response(t)
	if resp.StatusCode != http.StatusContinue {
		t.Fatalf("got %s, want 100 Continue", resp.Status)
	}
}

// response reads the next response head, within a generous deadline.
func (c *slowClient) response(t *testing.T) *http.Response {
	t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return resp
}

// drip writes data a byte every interval, in the background, until it
// is all sent, a write fails or close is called.
func (c *slowClient) drip(data string, every time.Duration) {
	go func() {
		defer close(c.dripped)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; i < len(data); i++ {
			select {
			case <-c.stop:
				return
			case <-tick.C:
			}
			if _, err := c.conn.Write([]byte{data[i]}); err != nil {
				c.writeErr.Store(err)
				return
			}
			c.sent.Add(1)
		}
	}()
}

// closed reports whether the server closed the connection, waiting for
// it at most a generous deadline.
func (c *slowClient) closed() bool {
	c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err := io.Copy(io.Discard, c.br)
	return err == nil || !isTimeout(err)
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

func (c *slowClient) close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	c.conn.Close()
}
