// Package http is the source that receives Defender records by HTTP POST:
// envelopes {"records":[...]}, records, arrays or NDJSON in the body, plain
// or gzip/deflate encoded. A request is answered only once its records are
// durably accepted by every sink (or dead-lettered): 200 with the count of
// records taken and refused, 400 when none could be used, 503 (retry) when
// delivery was not confirmed. A client that retries on 503 loses nothing.
//
// A slow client cannot hold others back: headers and bodies have read
// deadlines, bodies are read before the request waits for a delivery slot,
// and the requests in progress are bounded in number and in body memory
// (more are answered 503 at once with Retry-After, rather than left
// waiting).
package http

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/httpguard"
	"github.com/defender-intake/defender-intake/internal/metrics"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/source"
)

// Config is the `type: http` source section.
type Config struct {
	// Listen is host:port; loopback unless deliberately exposed.
	Listen string `yaml:"listen"`
	// Path accepts POSTs.
	Path string `yaml:"path"`
	// Token, when set, is required as "Authorization: Bearer TOKEN" (the
	// scheme in any case).
	Token config.Secret `yaml:"token"`
	// MaxBodyMB bounds one request body as sent (compressed or not).
	MaxBodyMB int `yaml:"max_body_mb"`
	// MaxDecodedMB bounds a compressed body once decoded: more is a
	// compression bomb, refused with 413 and dead-lettered as sent.
	MaxDecodedMB int `yaml:"max_decoded_mb"`
	// Timeout bounds the wait for a delivery slot and for delivery before
	// answering 503.
	Timeout time.Duration `yaml:"timeout"`
	// ReadHeaderTimeout bounds the time a client has to send the request
	// line and headers; the connection is closed after it.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// BodyTimeout bounds the time a client has to send the whole body,
	// counted from the end of the headers; it is answered 408 after it.
	BodyTimeout time.Duration `yaml:"body_timeout"`
	// MinBodyRateKB is the average rate, in KB/s, below which a body is
	// cut (408) once bodyGrace has passed; 0 turns the check off. It
	// frees a slow client's max_pending place long before body_timeout.
	MinBodyRateKB int `yaml:"min_body_rate_kb"`
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxConcurrent bounds the requests being delivered by the pipeline at
	// once; others, their bodies read, wait up to Timeout for a slot. A
	// request answered 503 on timeout keeps its slot until its batch is
	// delivered.
	MaxConcurrent int `yaml:"max_concurrent"`
	// MaxPending bounds the requests in progress (reading a body, waiting
	// for a slot, being delivered); more are answered 503 with
	// Retry-After at once.
	MaxPending int `yaml:"max_pending"`
	// MaxMemoryMB bounds the memory held by the bodies of all the
	// requests in progress (as sent, decoded, split into records) until
	// they are delivered; a request that would pass it while others hold
	// memory is answered 503 with Retry-After. A request alone always
	// gets the memory its own limits allow.
	MaxMemoryMB int `yaml:"max_memory_mb"`
	// MaxRecords bounds the records (and unusable stretches) of one body:
	// a body of tiny records costs far more memory and work than its
	// size says. More is refused with 413 and dead-lettered as sent.
	MaxRecords int `yaml:"max_records"`
	// MaxConnections bounds the open connections. At the limit a new
	// one takes the place of the connection idle the longest, else of
	// the one slow to send its request head, or, when all are being
	// served, is answered 503 with Retry-After and closed.
	MaxConnections int `yaml:"max_connections"`
}

// DefaultConfig holds the section's defaults.
func DefaultConfig() *Config {
	return &Config{Listen: "127.0.0.1:8514", Path: "/ingest", MaxBodyMB: 16, MaxDecodedMB: 64,
		Timeout: time.Minute, ReadHeaderTimeout: 10 * time.Second, BodyTimeout: time.Minute, MinBodyRateKB: 1, IdleTimeout: 2 * time.Minute,
		MaxConcurrent: 8, MaxPending: 32, MaxMemoryMB: 256, MaxRecords: 100_000, MaxConnections: 512}
}

// Validate implements source.Section.
func (c *Config) Validate() error {
	var errs []error
	if err := config.CheckListen(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen: %w", err))
	} else if err := httpguard.RequireToken(c.Listen, c.Token.IsSet(), "token"); err != nil {
		errs = append(errs, fmt.Errorf("listen: %w", err))
	}
	if !strings.HasPrefix(c.Path, "/") {
		errs = append(errs, errors.New("path: must start with /"))
	}
	for _, v := range []struct {
		key string
		n   int
	}{{"max_body_mb", c.MaxBodyMB}, {"max_decoded_mb", c.MaxDecodedMB}, {"max_concurrent", c.MaxConcurrent}, {"max_pending", c.MaxPending},
		{"max_memory_mb", c.MaxMemoryMB}, {"max_records", c.MaxRecords}, {"max_connections", c.MaxConnections}} {
		if v.n < 1 {
			errs = append(errs, fmt.Errorf("%s: must be >= 1", v.key))
		}
	}
	if c.MinBodyRateKB < 0 {
		errs = append(errs, errors.New("min_body_rate_kb: must be >= 0 (0: no minimum)"))
	}
	for _, v := range []struct {
		key string
		d   time.Duration
	}{{"timeout", c.Timeout}, {"read_header_timeout", c.ReadHeaderTimeout}, {"body_timeout", c.BodyTimeout}, {"idle_timeout", c.IdleTimeout}} {
		if v.d <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be > 0", v.key))
		}
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
	// pending admits MaxPending requests, from the first byte of their
	// body to their answer; the others are turned away with 503.
	pending chan struct{}
	// slots admits MaxConcurrent batches, bodies read, into the pipeline;
	// a slot is held until the batch is acknowledged.
	slots  chan struct{}
	budget *budget
	// refusals counts and logs the requests answered other than 200.
	refusals *refusals
	// addr is the bound address once Run listens (tests use port 0).
	addr atomic.Value
}

// New returns an HTTP source.
func New(name string, cfg Config, env source.Env) *Source {
	if env.Logger == nil {
		env.Logger = slog.Default()
	}
	if env.Metrics == nil {
		env.Metrics = metrics.New()
	}
	log := env.Logger.With("source", name)
	return &Source{name: name, cfg: cfg, log: log, refusals: newRefusals(env.Metrics.HTTPRefusals, name, log),
		pending: make(chan struct{}, max(1, cfg.MaxPending)), slots: make(chan struct{}, max(1, cfg.MaxConcurrent)),
		budget: &budget{limit: int64(cfg.MaxMemoryMB) << 20}}
}

// connKey is the request context key of the request's connection.
type connKey struct{}

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

	limited := newConnLimit(ln, s.cfg.MaxConnections, func(remote string) {
		s.refusals.add(http.StatusServiceUnavailable, fmt.Sprintf("%d connections open (max_connections), all being served", s.cfg.MaxConnections), remote)
	})
	mux := http.NewServeMux()
	mux.Handle(s.cfg.Path, s)
	if s.cfg.Path != "/" {
		// A client sending to the wrong path (a trailing slash, a
		// typo) is told so, and counted and logged like any refusal:
		// the mux's own 404 left no trace.
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			s.refuseUnread(w, r, http.NewResponseController(w), http.StatusNotFound, "no such path: send to "+s.cfg.Path)
		})
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
			limited.serving(c)
		}
		mux.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: s.cfg.ReadHeaderTimeout, IdleTimeout: s.cfg.IdleTimeout,
		// Counted from the end of the headers: a handler reads for at
		// most BodyTimeout then waits at most Timeout, so this only cuts
		// a client that does not read its answer.
		WriteTimeout:   s.cfg.BodyTimeout + s.cfg.Timeout + 10*time.Second,
		MaxHeaderBytes: 64 << 10,
		ConnState:      limited.connState,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext: func(net.Listener) context.Context {
			// Requests outlive the stop signal: they finish delivering.
			return context.WithoutCancel(ctx)
		}}
	s.log.Info("http source listening", "addr", ln.Addr().String(), "path", s.cfg.Path, "auth", s.cfg.Token.IsSet())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(limited) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http source %s: %w", s.name, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.BodyTimeout+s.cfg.Timeout+5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http source %s: shutdown: %w", s.name, err)
	}
	return nil
}
