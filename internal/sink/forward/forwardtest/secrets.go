package forwardtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a log output safe for the goroutines of a sink.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// SecretsNotRepeated checks that a target repeating the request it
// refuses (its headers and body, where the sink's credentials are) in
// its answer does not get them into Write's error, the log (the sink's
// loggers come from slog.Default at Open) or the dead-letter file: a 400
// (whose answer is each dead letter's reason) and a 401 (whose answer
// the outage's log line and Unavailable give).
func SecretsNotRepeated(t *testing.T, setup func(t *testing.T) Outage, secrets ...string) {
	for _, code := range []int{400, 401} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			var logs lockedBuffer
			prev := slog.Default()
			slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
			defer slog.SetDefault(prev)
			o := setup(t)
			gate := &Gate{Next: o.Target}
			srv := httptest.NewServer(gate)
			defer srv.Close()
			s := o.Open(srv.URL)
			defer s.Close()
			gate.Echo.Store(int32(code))
			err := s.Write(context.Background(), Docs(4, "echo"))
			if gate.Echoed.Load() == 0 {
				t.Fatal("no request reached the echoing target")
			}
			dl, rerr := os.ReadFile(o.DeadLetter)
			if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				t.Fatal(rerr)
			}
			outputs := map[string]string{"Write's error": fmt.Sprint(err), "log": logs.String(), "dead letters": string(dl)}
			if a, ok := s.(interface{ Unavailable() error }); ok {
				outputs["Unavailable"] = fmt.Sprint(a.Unavailable())
			}
			shown := false
			for what, out := range outputs {
				shown = shown || strings.Contains(out, EchoMarker)
				for _, secret := range secrets {
					if strings.Contains(out, secret) {
						t.Errorf("%s holds the secret %q:\n%.600s", what, secret, out[max(0, strings.Index(out, secret)-300):])
					}
				}
			}
			if !shown {
				t.Errorf("the target's answer is in none of the outputs %v", outputs)
			}
		})
	}
}
