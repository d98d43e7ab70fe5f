package http_test

import (
	"net/http"
	"testing"

	httpsrc "github.com/defender-intake/defender-intake/internal/source/http"
)

// Without a token the source listens on loopback only, where log shippers
// post without Origin or Sec-Fetch-* headers. A browser adds them, and a
// plain cross-site POST needs no preflight: a page the user visits must
// not be able to push records into the local source.
func TestNoTokenRefusesBrowserCrossSite(t *testing.T) {
	r := startRigAsIs(t, *httpsrc.DefaultConfig())
	record := []byte(`{"time":"2026-11-20T10:00:00Z","category":"AdvancedHunting-DeviceEvents","properties":{"DeviceName":"x"}}` + "\n")
	port := r.addr[len("127.0.0.1:"):]
	cases := []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"log shipper", nil, http.StatusOK},
		{"page of another site", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"rebound name", map[string]string{"Origin": "http://rebind.example:" + port, "Sec-Fetch-Site": "same-origin"}, http.StatusForbidden},
		{"sandboxed page", map[string]string{"Origin": "null"}, http.StatusForbidden},
		{"same-site page, no Origin kept", map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"this server's own origin", map[string]string{"Origin": "http://127.0.0.1:" + port, "Sec-Fetch-Site": "same-origin"}, http.StatusOK},
		{"typed by the user", map[string]string{"Sec-Fetch-Site": "none"}, http.StatusOK},
	}
	taken := 0
	for _, c := range cases {
		got := r.post(t, record, c.header)
		if got.code != c.want {
			t.Errorf("%s: answered %d (%s), want %d", c.name, got.code, got.Message, c.want)
		}
		if got.code == http.StatusOK {
			taken++
		}
	}
	if n := len(r.docs(t)); n != taken {
		t.Errorf("%d documents written, want %d (refused requests must deliver nothing)", n, taken)
	}
}

// With a token, the token is what decides: a browser page cannot know it.
func TestTokenSourceIgnoresOrigin(t *testing.T) {
	r := startRig(t, *httpsrc.DefaultConfig())
	record := []byte(`{"time":"2026-11-20T10:00:00Z","category":"AdvancedHunting-DeviceEvents","properties":{"DeviceName":"x"}}` + "\n")
	if got := r.post(t, record, map[string]string{"Origin": "https://tool.example"}); got.code != http.StatusOK {
		t.Errorf("answered %d (%s) with the right token and an Origin, want 200", got.code, got.Message)
	}
}
