package web

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Every answer, page and API, carries the security headers; without a
// token, only loopback Host headers are answered (DNS rebinding); the
// Bearer scheme is case-insensitive.
func TestExposureGuards(t *testing.T) {
	st := loadedStore(t, 10)
	open := newServer(t, st, "")
	tokened := newServer(t, st, "s3cret")
	get := func(srv string, path, host, auth string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv+path, nil)
		if host != "" {
			req.Host = host
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	for _, path := range []string{"/", "/app.js", "/api/stats", "/api/nope"} {
		resp, _ := get(open.URL, path, "", "")
		for h, want := range map[string]string{
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"Content-Security-Policy": "default-src 'none'; script-src 'self'",
		} {
			if got := resp.Header.Get(h); !strings.Contains(got, want) {
				t.Errorf("%s: %s = %q, want %q", path, h, got, want)
			}
		}
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("%s: the page can be framed", path)
		}
	}

	port := open.URL[strings.LastIndex(open.URL, ":")+1:]
	for _, tt := range []struct {
		host   string
		status int
	}{
		{"", 200},
		{"localhost:" + port, 200},
		{"[::1]:" + port, 200},
		{"rebind.attacker.example:" + port, http.StatusMisdirectedRequest},
		{"localhost:" + port + "0", http.StatusMisdirectedRequest},
	} {
		for _, path := range []string{"/api/stats", "/api/events?q=x", "/"} {
			resp, body := get(open.URL, path, tt.host, "")
			if resp.StatusCode != tt.status {
				t.Errorf("Host %q %s: %d %s, want %d", tt.host, path, resp.StatusCode, body, tt.status)
			}
		}
	}
	// With a token the page may be exposed under any name.
	if resp, body := get(tokened.URL, "/api/stats", "events.example.org", "Bearer s3cret"); resp.StatusCode != 200 {
		t.Errorf("token, other Host: %d %s", resp.StatusCode, body)
	}
	for _, tt := range []struct {
		auth   string
		status int
	}{
		{"Bearer s3cret", 200}, {"bearer s3cret", 200}, {"BEARER s3cret", 200},
		{"Bearer wrong", 401}, {"Basic s3cret", 401}, {"", 401},
	} {
		if resp, body := get(tokened.URL, "/api/stats", "", tt.auth); resp.StatusCode != tt.status {
			t.Errorf("Authorization %q: %d %s, want %d", tt.auth, resp.StatusCode, body, tt.status)
		}
	}
}
