// Package http is the source that receives Defender records by HTTP POST:
// envelopes {"records":[...]}, records, arrays or NDJSON in the body. A
// request is answered 200 only once its records are durably accepted by
// every sink (or dead-lettered), so a client that retries on anything else
// loses nothing.
package http

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/source"
)

// Config is the `type: http` source section.
type Config struct {
	// Listen is host:port; loopback unless deliberately exposed.
	Listen string `yaml:"listen"`
	// Path accepts POSTs.
	Path string `yaml:"path"`
	// Token, when set, is required as "Authorization: Bearer TOKEN".
	Token config.Secret `yaml:"token"`
	// MaxBodyMB bounds one request body.
	MaxBodyMB int `yaml:"max_body_mb"`
	// Timeout bounds the wait for delivery before answering 503.
	Timeout time.Duration `yaml:"timeout"`
	// MaxConcurrent bounds the requests whose bodies are read at once;
	// others wait (memory stays below max_concurrent x max_body_mb).
	MaxConcurrent int `yaml:"max_concurrent"`
}

// DefaultConfig holds the section's defaults.
func DefaultConfig() *Config {
	return &Config{Listen: "127.0.0.1:8514", Path: "/ingest", MaxBodyMB: 16, Timeout: time.Minute, MaxConcurrent: 8}
}

// Validate implements source.Section.
func (c *Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen: %w", err))
	}
	if !strings.HasPrefix(c.Path, "/") {
		errs = append(errs, errors.New("path: must start with /"))
	}
	if c.MaxBodyMB < 1 {
		errs = append(errs, errors.New("max_body_mb: must be >= 1"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("timeout: must be > 0"))
	}
	if c.MaxConcurrent < 1 {
		errs = append(errs, errors.New("max_concurrent: must be >= 1"))
	}
	return errors.Join(errs...)
}

func init() {
	source.Register("http", source.Factory{
		NewSection: func() source.Section { return DefaultConfig() },
		Open: func(name string, s source.Section, env source.Env) (pipeline.Source, error) {
			return New(name, *s.(*Config), env), nil
		},
	})
}

// Source is the HTTP receiver.
type Source struct {
	name string
	cfg  Config
	log  *slog.Logger
	seq  atomic.Int64
	out  pipeline.Emitter
	// slots admits MaxConcurrent requests to read their bodies.
	slots chan struct{}
	// addr is the bound address once Run listens (tests use port 0).
	addr atomic.Value
}

// New returns an HTTP source.
func New(name string, cfg Config, env source.Env) *Source {
	if env.Logger == nil {
		env.Logger = slog.Default()
	}
	return &Source{name: name, cfg: cfg, log: env.Logger.With("source", name), slots: make(chan struct{}, max(1, cfg.MaxConcurrent))}
}

// Name implements pipeline.Source.
func (s *Source) Name() string { return s.name }

// Addr returns the listening address, or "" before Run listens.
func (s *Source) Addr() string {
	a, _ := s.addr.Load().(string)
	return a
}

// Run implements pipeline.Source: it serves until ctx ends, then stops
// accepting and waits for the requests in progress, whose records the
// pipeline is still delivering.
func (s *Source) Run(ctx context.Context, out pipeline.Emitter) error {
	s.out = out
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("http source %s: %w", s.name, err)
	}
	s.addr.Store(ln.Addr().String())
	mux := http.NewServeMux()
	mux.Handle(s.cfg.Path, s)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context {
		// Requests outlive the stop signal: they finish delivering.
		return context.WithoutCancel(ctx)
	}}
	s.log.Info("http source listening", "addr", ln.Addr().String(), "path", s.cfg.Path, "auth", s.cfg.Token.IsSet())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http source %s: %w", s.name, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout+5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http source %s: shutdown: %w", s.name, err)
	}
	return nil
}

// ServeHTTP accepts one POST.
func (s *Source) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		reply(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	if s.cfg.Token.IsSet() {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token.Value())) != 1 {
			reply(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
	}
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-r.Context().Done():
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(s.cfg.MaxBodyMB)<<20))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			reply(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d MB", s.cfg.MaxBodyMB))
			return
		}
		reply(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	done := make(chan error, 1)
	batch := &pipeline.Batch{
		Messages: []pipeline.Message{{
			Origin: pipeline.Origin{Source: s.name, Type: "http", Stream: s.cfg.Path, Partition: "http",
				Offset: -1, SequenceNumber: s.seq.Add(1)},
			Body: body,
		}},
		Ack:       func(err error) { done <- err },
		Unordered: true,
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	if err := s.out.Emit(ctx, batch); err != nil {
		reply(w, http.StatusServiceUnavailable, "not accepted, retry later: "+err.Error())
		return
	}
	select {
	case err := <-done:
		if err != nil {
			reply(w, http.StatusServiceUnavailable, "not delivered, retry later: "+err.Error())
			return
		}
		reply(w, http.StatusOK, "delivered")
	case <-ctx.Done():
		// The batch may still be delivered: a retry can duplicate it,
		// which at-least-once allows; answering 200 could lose it.
		reply(w, http.StatusServiceUnavailable, "delivery not confirmed in time, retry later")
	}
}

func reply(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"status": http.StatusText(code), "message": msg})
}
