// Package web serves the Events page and its JSON API over the event store.
// New returns an http.Handler so that `serve` and `run` mount the same thing.
package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/defender-intake/defender-intake/internal/httpguard"
	"github.com/defender-intake/defender-intake/internal/store"
)

//go:embed assets
var assets embed.FS

// Config is the web server's configuration.
type Config struct {
	// Listen is the address to bind. It defaults to loopback: exposing the
	// page needs a token.
	Listen string `yaml:"listen"`
	// TokenFile holds the bearer token (first line); the environment
	// variable DEFENDER_INTAKE_WEB_TOKEN is used when it is empty.
	TokenFile string `yaml:"token_file"`
	// QueryTimeout bounds every query.
	QueryTimeout time.Duration `yaml:"query_timeout"`
	// MaxPageSize bounds limit= on /api/events.
	MaxPageSize int `yaml:"max_page_size"`
	// MaxQueries bounds the searches (events, histogram, top values,
	// stats) running at once; others wait up to QueueWait, then get 503.
	MaxQueries int `yaml:"max_queries"`
	// QueueWait is how long a search waits for one of MaxQueries.
	QueueWait time.Duration `yaml:"queue_wait"`
}

// TokenEnv is the environment variable holding the API token.
const TokenEnv = httpguard.TokenEnv

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Listen: "127.0.0.1:8080", QueryTimeout: 30 * time.Second, MaxPageSize: 500, MaxQueries: 4, QueueWait: 3 * time.Second}
}

// Validate reports the first problem in c, including the exposure rule
// (httpguard): an address that is not loopback needs a token. Config is
// set from the flags of `serve` and `demo`, so messages name the flags.
func (c Config) Validate(token string) error {
	switch {
	case c.Listen == "":
		return errors.New("--listen must be set")
	case c.QueryTimeout <= 0:
		return errors.New("query timeout must be positive")
	case c.MaxPageSize <= 0:
		return errors.New("max page size must be positive")
	case c.MaxQueries <= 0 || c.QueueWait <= 0:
		return errors.New("max queries and queue wait must be positive")
	}
	if err := httpguard.RequireToken(c.Listen, token != "", "--token-file FILE or $"+TokenEnv); err != nil {
		return fmt.Errorf("--listen %w", err)
	}
	return nil
}

// LoadToken reads the token from TokenFile (--token-file) or, when unset,
// the environment. Errors name the flag.
func (c Config) LoadToken() (string, error) {
	if c.TokenFile == "" {
		return strings.TrimSpace(os.Getenv(TokenEnv)), nil
	}
	b, err := os.ReadFile(c.TokenFile)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	t := strings.TrimSpace(line)
	if t == "" {
		return "", fmt.Errorf("--token-file: %s is empty (the token is its first line)", c.TokenFile)
	}
	return t, nil
}

// Options configures the handler.
type Options struct {
	Store  *store.Store
	Config Config
	// Token, when set, is required as "Authorization: Bearer TOKEN" on
	// every API call. The page's static files are public; they hold no data.
	Token  string
	Logger *slog.Logger
	// Now is the clock for default and relative time ranges.
	Now func() time.Time
	// Alerts, when set, answers GET /api/alerts for the page's Alerts view
	// (`serve` and `demo` pass alertapi.Handler over the store). It is behind the same
	// token as the rest of the API. When nil, the route is left to whoever
	// mounts the handler (`run` mounts the detection sink's own).
	Alerts http.Handler
}

type server struct {
	opts Options
	log  *slog.Logger
	// slots admits Config.MaxQueries searches at once.
	slots chan struct{}
}

// limited runs h once one of the server's query slots is free: a few
// expensive queries at once cannot starve the rest of the machine. A
// request that waits longer than QueueWait gets 503 and Retry-After.
func (s *server) limited(h func(r *http.Request) (any, error)) func(r *http.Request) (any, error) {
	return func(r *http.Request) (any, error) {
		wait := time.NewTimer(s.opts.Config.QueueWait)
		defer wait.Stop()
		select {
		case s.slots <- struct{}{}:
			defer func() { <-s.slots }()
		case <-wait.C:
			return nil, &apiError{Status: http.StatusServiceUnavailable, retryAfter: true,
				Msg: fmt.Sprintf("%d searches are running: retry in a moment", cap(s.slots))}
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
		return h(r)
	}
}

// New returns the handler serving the Events page at / and the API at /api/.
func New(opts Options) http.Handler {
	_, h := build(opts)
	return h
}

// build is New, also returning the server (tests look at its slots).
func build(opts Options) (*server, http.Handler) {
	d := DefaultConfig()
	if opts.Config.QueryTimeout <= 0 {
		opts.Config.QueryTimeout = d.QueryTimeout
	}
	if opts.Config.MaxPageSize <= 0 {
		opts.Config.MaxPageSize = d.MaxPageSize
	}
	if opts.Config.MaxQueries <= 0 {
		opts.Config.MaxQueries = d.MaxQueries
	}
	if opts.Config.QueueWait <= 0 {
		opts.Config.QueueWait = d.QueueWait
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &server{opts: opts, log: opts.Logger, slots: make(chan struct{}, opts.Config.MaxQueries)}
	mux := http.NewServeMux()
	mux.HandleFunc(Patterns[0], s.api(s.limited(s.events)))
	mux.HandleFunc(Patterns[1], s.api(s.event))
	mux.HandleFunc(Patterns[2], s.api(s.limited(s.histogram)))
	mux.HandleFunc(Patterns[3], s.api(s.fields))
	mux.HandleFunc(Patterns[4], s.api(s.limited(s.top)))
	mux.HandleFunc(Patterns[5], s.api(s.limited(s.stats)))
	mux.HandleFunc(Patterns[6], s.export)
	if opts.Alerts != nil {
		mux.Handle(AlertsPattern, s.authOnly(opts.Alerts))
	}
	mux.HandleFunc("/api/", s.api(func(r *http.Request) (any, error) {
		return nil, &apiError{Status: http.StatusNotFound, Msg: "no such API endpoint: " + r.Method + " " + r.URL.Path}
	}))
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServer(http.FS(static))
	mux.Handle(Patterns[7], files)
	var h http.Handler = securityHeaders(mux)
	if opts.Token == "" {
		// Without a token: loopback only, and only for pages of this
		// origin (no DNS rebinding).
		h = httpguard.LocalOnly(h)
	}
	return s, h
}

// Patterns are the routes the handler answers, for mounting it on a mux
// shared with other handlers (as `run` does) without claiming all of /api/.
var Patterns = []string{
	"GET /api/events",
	"GET /api/events/{id}",
	"GET /api/histogram",
	"GET /api/fields",
	"GET /api/fields/{field}/top",
	"GET /api/stats",
	ExportPattern,
	"/", // the page and its assets
}

// AlertsPattern is the route of Options.Alerts. It is not in Patterns: a
// mux shared with the detection sink's handler must not claim it twice.
const AlertsPattern = "GET /api/alerts"

// authOnly puts h behind the API token; h writes its own answers.
func (s *server) authOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Token != "" && !s.authorized(r) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("WWW-Authenticate", `Bearer realm="defender-intake"`)
			writeJSON(w, http.StatusUnauthorized, &apiError{Msg: "missing or wrong bearer token"})
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// pageCSP fits the embedded page: its own scripts, styles and API only
// (no inline code, nothing from the network), never framed.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders adds to every answer, page and API alike: the content
// security policy, no MIME sniffing, and no Referer (URLs carry queries).
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", pageCSP)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// apiError is an error with an HTTP status and, for query errors, the
// position and a hint.
type apiError struct {
	Status   int    `json:"-"`
	Msg      string `json:"error"`
	Position *int   `json:"position,omitempty"`
	Hint     string `json:"hint,omitempty"`
	// retryAfter asks the client to retry in a second (503).
	retryAfter bool
}

func (e *apiError) Error() string { return e.Msg }

func badRequest(format string, a ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, a...)}
}

// api wraps a handler: auth, query timeout, JSON encoding, error mapping.
func (s *server) api(h func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if s.opts.Token != "" && !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="defender-intake"`)
			writeJSON(w, http.StatusUnauthorized, &apiError{Msg: "missing or wrong bearer token"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.Config.QueryTimeout)
		defer cancel()
		start := time.Now()
		v, err := h(r.WithContext(ctx))
		if err != nil {
			var ae *apiError
			switch {
			case errors.As(err, &ae):
			case errors.Is(err, store.ErrRange):
				ae = rangeError(err)
			case errors.Is(ctx.Err(), context.DeadlineExceeded):
				ae = &apiError{Status: http.StatusGatewayTimeout, Msg: fmt.Sprintf("query took longer than %s: narrow the time range or the query", s.opts.Config.QueryTimeout)}
			case r.Context().Err() != nil:
				return // client went away
			default:
				s.log.Error("web: API request failed", "path", r.URL.Path, "err", err)
				ae = &apiError{Status: http.StatusInternalServerError, Msg: "internal error: " + err.Error()}
			}
			if ae.retryAfter {
				w.Header().Set("Retry-After", "1")
			}
			writeJSON(w, ae.Status, ae)
			return
		}
		if m, ok := v.(map[string]any); ok {
			m["took_ms"] = time.Since(start).Milliseconds()
		}
		writeJSON(w, http.StatusOK, v)
	}
}

func (s *server) authorized(r *http.Request) bool {
	return httpguard.Authorized(r.Header.Get("Authorization"), s.opts.Token)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
