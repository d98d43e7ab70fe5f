package forward

import (
	"context"
	"encoding/pem"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/sink"
)

// A target whose certificate does not verify (no tls.ca_file for its
// private CA) is refused at once, like a 401: not retried in silence as
// a network fault, but said (Unavailable, the gauge) and matching
// sink.ErrTargetUnavailable; with the CA, the same target is available.
func TestCertificateRefusal(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	var conns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Config.ErrorLog = nil
	srv.StartTLS()
	defer srv.Close()
	tg := NewTarget("tls-test", slog.New(slog.DiscardHandler))
	defer tg.Close()
	newReq := func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, nil)
	}
	client, err := NewHTTPClient(TLS{}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r := Retrier{MaxAttempts: 5, Initial: time.Millisecond, Target: tg}
	_, err = r.Do(context.Background(), client, newReq)
	if !RefusesRequest(err) || !errors.Is(err, sink.ErrTargetUnavailable) || Permanent(err) {
		t.Fatalf("Do against an unverified certificate = %v: want a refusal of the request, not Permanent", err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1: a certificate does not verify better the next time", n)
	}
	if u := tg.Unavailable(); u == nil {
		t.Error("Unavailable() = nil with a certificate that does not verify")
	}

	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	client, err = NewHTTPClient(TLS{CAFile: ca}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Do(context.Background(), client, newReq); err != nil {
		t.Fatalf("Do with the CA: %v", err)
	}
	if u := tg.Unavailable(); u != nil {
		t.Errorf("Unavailable() = %v with the CA", u)
	}
}
