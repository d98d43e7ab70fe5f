package splunkhec

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

// The token appears in no log line and no error, whatever fails.
func TestTokenNeverLogged(t *testing.T) {
	const token = "hec-token-5f1d9c"
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer slog.SetDefault(prev)
	cases := []struct {
		name   string
		status int
	}{{"forbidden", http.StatusForbidden}, {"busy", http.StatusServiceUnavailable}, {"bad", http.StatusBadRequest}}
	for _, tc := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"text":"no","code":4}`, tc.status)
		}))
		c := DefaultConfig()
		c.URL, c.Token, c.MaxAttempts, c.Timeout = srv.URL, config.NewSecret(token), 2, time.Second
		c.DeadLetter = filepath.Join(t.TempDir(), "dl.ndjson")
		s, err := Open("hec", *c)
		if err != nil {
			t.Fatal(err)
		}
		s.retry.Initial = time.Millisecond
		err = s.Write(context.Background(), forwardtest.Docs(2, "x"))
		s.Close()
		srv.Close()
		if err != nil && strings.Contains(err.Error(), token) {
			t.Errorf("%s: the error shows the token: %v", tc.name, err)
		}
		for _, e := range forwardtest.DeadLetters(t, c.DeadLetter) {
			if strings.Contains(e["reason"].(string), token) {
				t.Errorf("%s: a dead letter shows the token", tc.name)
			}
		}
	}
	if logs.Len() == 0 {
		t.Fatal("nothing was logged: the test did not exercise failures")
	}
	if strings.Contains(logs.String(), token) {
		t.Errorf("the token is in the logs:\n%s", logs.String())
	}
}

// A collector (or a proxy) that repeats the refused request in its
// answer, Authorization header included, does not get the token into
// the dead letters, the log or the error.
func TestSecretsNotRepeated(t *testing.T) {
	forwardtest.SecretsNotRepeated(t, func(t *testing.T) forwardtest.Outage {
		dl := filepath.Join(t.TempDir(), "dl.ndjson")
		return forwardtest.Outage{Target: &hec{}, DeadLetter: dl, Open: func(url string) sink.Sink {
			return openSink(t, url, func(c *Config) { c.DeadLetter = dl })
		}}
	}, "tok-1")
}
