package http_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	httpsrc "github.com/defender-intake/defender-intake/internal/source/http"
)

// A client that shuts down its sending side once its request is sent
// (shutdown(SHUT_WR), as nc -N or a script on a raw socket does) still
// waits for its answer. The answer must not depend on that: each request
// is answered 200 and delivered once. Tying delivery to the connection
// answered it 503 while delivering it anyway, so every retry was a
// duplicate.
func TestHalfClosedClientAnswered(t *testing.T) {
	r := startRig(t, *httpsrc.DefaultConfig())
	const n = 20
	recs := deliverytest.Records(n, "halfclose")
	ok := 0
	for i, rec := range recs {
		conn, err := net.DialTimeout("tcp", r.addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		head := "POST /ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
			"\r\nConnection: close\r\nContent-Length: " + itoa(len(rec)) + "\r\n\r\n"
		if _, err := io.WriteString(conn, head+string(rec)); err != nil {
			t.Fatal(err)
		}
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(newReader(conn), nil)
		if err != nil {
			t.Fatalf("request %d: reading the answer: %v", i, err)
		}
		var a struct {
			Message string `json:"message"`
			Taken   int    `json:"taken"`
		}
		json.NewDecoder(resp.Body).Decode(&a)
		conn.Close()
		if resp.StatusCode == http.StatusOK && a.Taken == 1 {
			ok++
		} else if i == 0 {
			t.Logf("request %d answered %d %q", i, resp.StatusCode, a.Message)
		}
	}
	if ok != n {
		t.Errorf("%d of %d half-closed requests answered 200 with 1 taken", ok, n)
	}
	if got := len(r.docs(t)); got != n {
		t.Errorf("%d documents delivered, want %d (one per request)", got, n)
	}
}

// A body sent without Content-Length or chunked encoding (an HTTP/1.0
// client that ends it by closing) is not a body to HTTP: it was ignored
// and answered 200 with nothing taken, and the records were lost. It is
// answered 411 with the reason; a body with a length still works on
// HTTP/1.0.
func TestBodyWithoutLength(t *testing.T) {
	r := startRig(t, *httpsrc.DefaultConfig())
	rec := string(deliverytest.Records(1, "nolength")[0])
	tests := []struct {
		name, request string
		code, docs    int
	}{
		{"HTTP/1.0 ended by close", "POST /ingest HTTP/1.0\r\nAuthorization: Bearer " + token + "\r\n\r\n" + rec, http.StatusLengthRequired, 0},
		{"HTTP/1.1 ended by close", "POST /ingest HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " + token + "\r\n\r\n" + rec, http.StatusLengthRequired, 0},
		{"HTTP/1.0 with a length", "POST /ingest HTTP/1.0\r\nAuthorization: Bearer " + token + "\r\nContent-Length: " + itoa(len(rec)) + "\r\n\r\n" + rec, http.StatusOK, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", r.addr, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			io.WriteString(conn, tc.request)
			conn.(*net.TCPConn).CloseWrite()
			conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			resp, err := http.ReadResponse(newReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Errorf("answered %d, want %d", resp.StatusCode, tc.code)
			}
		})
	}
	if n := len(r.docs(t)); n != 1 {
		t.Errorf("%d documents, want 1", n)
	}
}

func newReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }
