package httpguard

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestIsLoopbackAndRequireToken(t *testing.T) {
	tests := []struct {
		listen   string
		loopback bool
	}{
		{"127.0.0.1:8080", true},
		{"127.3.2.1:8080", true},
		{"localhost:8080", true},
		{"LOCALHOST:1", true},
		{"[::1]:8080", true},
		{"0.0.0.0:8080", false},
		{"[::]:8080", false},
		{":8080", false},
		{"192.0.2.10:8080", false},
		{"example.org:8080", false},
		{"[::ffff:127.0.0.1]:80", true},
	}
	for _, tt := range tests {
		if got := IsLoopback(tt.listen); got != tt.loopback {
			t.Errorf("IsLoopback(%q) = %v", tt.listen, got)
		}
		err := RequireToken(tt.listen, false, "--token-file FILE")
		if (err == nil) != tt.loopback {
			t.Errorf("RequireToken(%q, no token) = %v", tt.listen, err)
		}
		if err != nil && !strings.Contains(err.Error(), "--token-file FILE") {
			t.Errorf("the error does not say how to set a token: %v", err)
		}
		if err := RequireToken(tt.listen, true, "x"); err != nil {
			t.Errorf("RequireToken(%q, token) = %v", tt.listen, err)
		}
	}
}

func TestAuthorized(t *testing.T) {
	tests := []struct {
		header string
		ok     bool
	}{
		{"Bearer s3cret", true},
		{"bearer s3cret", true},
		{"BEARER s3cret", true},
		{"Bearer   s3cret ", true},
		{"Bearer s3cre", false},
		{"Bearer s3cretx", false},
		{"Bearer S3CRET", false},
		{"Basic s3cret", false},
		{"Bearers3cret", false},
		{"s3cret", false},
		{"Bearer", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := Authorized(tt.header, "s3cret"); got != tt.ok {
			t.Errorf("Authorized(%q) = %v", tt.header, got)
		}
	}
	if Authorized("Bearer ", "") || Authorized("Bearer x", "") {
		t.Error("an empty token authorizes")
	}
}

// LocalOnly over a real loopback listener: the Host header must name
// loopback with the server's port (DNS rebinding); a request that came in
// on another address is refused whatever its Host.
func TestLocalOnly(t *testing.T) {
	srv := httptest.NewServer(LocalOnly(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "data") })))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	tests := []struct {
		host   string
		status int
	}{
		{"127.0.0.1:" + port, 200},
		{"localhost:" + port, 200},
		{"LocalHost:" + port, 200},
		{"[::1]:" + port, 200},
		{"attacker.example:" + port, http.StatusMisdirectedRequest},
		{"127.0.0.1.nip.io:" + port, http.StatusMisdirectedRequest},
		{"localhost:1", http.StatusMisdirectedRequest},
		{"localhost", http.StatusMisdirectedRequest}, // port 80 implied
		{"attacker.example", http.StatusMisdirectedRequest},
	}
	origins := []struct {
		origin string
		status int
	}{
		{"http://127.0.0.1:" + port, 200},
		{"http://localhost:" + port, 200},
		{"https://attacker.example", http.StatusForbidden},
		{"http://localhost:1", http.StatusForbidden},
		{"null", http.StatusForbidden},
	}
	for _, tt := range origins {
		req, _ := http.NewRequest("POST", srv.URL+"/ingest", nil)
		req.Header.Set("Origin", tt.origin)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("Origin %q: %d, want %d", tt.origin, resp.StatusCode, tt.status)
		}
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", srv.URL+"/api/events", nil)
		req.Host = tt.host
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("Host %q: %d %s, want %d", tt.host, resp.StatusCode, b, tt.status)
		}
		if tt.status != 200 && strings.Contains(string(b), "data") {
			t.Errorf("Host %q: refused but answered %s", tt.host, b)
		}
	}

	// A request that came in on an address other than loopback (a server
	// bound to 0.0.0.0 without a token) is refused.
	h := LocalOnly(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "data") }))
	for _, tt := range []struct {
		local  net.Addr
		status int
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 8080}, http.StatusForbidden},
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8080}, 200},
	} {
		req := httptest.NewRequest("GET", "/api/stats", nil).WithContext(context.WithValue(context.Background(), http.LocalAddrContextKey, tt.local))
		req.Host = "127.0.0.1:8080"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.status {
			t.Errorf("local %s: %d %s", tt.local, rec.Code, rec.Body)
		}
	}
}
