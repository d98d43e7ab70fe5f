package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/defender-intake/defender-intake/internal/alertapi"
	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/detect/detectsink"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/store"
	"github.com/defender-intake/defender-intake/internal/store/storesink"
	"github.com/defender-intake/defender-intake/internal/web"
)

func init() {
	register("serve", command{
		summary: "serve the Events page and its API on an existing store",
		run:     serveCmd,
	})
	// `run` serves the Events page too when a `type: store` sink is
	// configured (importing storesink registers that sink type).
	mountHTTP(mountEventsPage)
}

// mountEventsPage mounts the Events page and its API on run's HTTP server
// over the configured store sink. The API token, if any, is server.token
// or comes from the environment, as for serve.
func mountEventsPage(mux *http.ServeMux, sinks map[string]sink.Sink, srv config.Server) (mounted, error) {
	var names []string
	for name, s := range sinks {
		if _, ok := s.(*storesink.Sink); ok {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return mounted{}, nil
	}
	if len(names) > 1 {
		sort.Strings(names)
		return mounted{}, fmt.Errorf("events page: %d store sinks (%s): configure one", len(names), strings.Join(names, ", "))
	}
	st := sinks[names[0]].(*storesink.Sink).Store()
	h := web.New(web.Options{Store: st, Token: srv.WebToken(), Logger: slog.Default()})
	for _, p := range web.Patterns {
		mux.Handle(p, h)
	}
	return mounted{name: "Events page", path: "/", dataDir: st.Dir()}, nil
}

func serveCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := web.DefaultConfig()
	data := fs.String("data", store.DefaultConfig().Dir, "data `directory` of the store")
	listen := fs.String("listen", def.Listen, "`address` to listen on (loopback; when the default port is taken, a free one); anything but loopback needs a token")
	tokenFile := fs.String("token-file", "", "`file` holding the API bearer token (else $"+web.TokenEnv+")")
	var alertFiles fileList
	fs.Var(&alertFiles, "alerts", "alert `file` of a detection sink of an earlier version, imported into the store's alerts at start (repeatable; alerts are in the store now)")
	setUsage(fs, func(w io.Writer) {
		fmt.Fprintln(w, "usage: defender-intake serve [--data DIR] [--listen ADDR] [--token-file FILE] [--alerts FILE]...")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Serves the Events page, its Alerts view and /api/ on the store in DIR (one process at a time")
		fmt.Fprintln(w, "may open it).")
	})
	if status, done := parseFlags(fs, args, stdout); done {
		return status
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg := def
	cfg.Listen, cfg.TokenFile = *listen, *tokenFile
	token, err := cfg.LoadToken()
	if err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 2
	}
	if err := cfg.Validate(token); err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 2
	}
	if _, err := os.Stat(filepath.Join(*data, store.FileName)); err != nil {
		fmt.Fprintf(stderr, "serve: no store in %s (load one with `defender-intake ingest --data %s FILE...`)\n", *data, *data)
		return 2
	}
	if err := checkInputFiles(alertFiles); err != nil {
		fmt.Fprintf(stderr, "serve: --alerts: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, nil))
	sc := store.DefaultConfig()
	sc.Dir, sc.MaxAge = *data, 0 // serving never deletes: retention belongs to the writer
	st, err := store.Open(ctx, sc, log)
	if err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 1
	}
	defer st.Close()
	if err := importAlertFiles(ctx, st, alertFiles, stdout); err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	listenSet := false
	fs.Visit(func(f *flag.Flag) { listenSet = listenSet || f.Name == "listen" })
	if err != nil && !listenSet {
		// The default port is taken (a demo, another serve): any free
		// loopback port, as demo does; the address is printed.
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 1
	}
	opts := web.Options{Store: st, Config: cfg, Token: token, Logger: log, Alerts: alertapi.Handler(log, st)}
	return serveHTTP(ctx, ln, web.New(opts), stdout, log, served{dir: *data, command: "serve", tokenRequired: token != ""})
}

// importAlertFiles loads alert files (what detection wrote before alerts
// were kept in the store) into the store's alerts; a state the store
// already holds in a newer version is kept.
func importAlertFiles(ctx context.Context, st *store.Store, files []string, stdout io.Writer) error {
	for _, f := range files {
		as, err := detectsink.ReadAlerts(f, time.Time{})
		if err != nil {
			return fmt.Errorf("--alerts %s: %w", f, err)
		}
		if err := st.ImportAlerts(ctx, as); err != nil {
			return fmt.Errorf("--alerts %s: %w", f, err)
		}
		fmt.Fprintf(stdout, "imported %d alert(s) from %s\n", len(as), f)
	}
	return nil
}

// fileList is a repeatable flag.
type fileList []string

func (l *fileList) String() string { return strings.Join(*l, ",") }

func (l *fileList) Set(v string) error {
	if v == "" {
		return errors.New("empty file name")
	}
	*l = append(*l, v)
	return nil
}

// served says what serveHTTP serves, for the record it keeps in the
// store's data directory while it runs (see serverFileName).
type served struct {
	dir, command  string
	tokenRequired bool
}

// serveHTTP serves h on ln until ctx ends, printing the page's address.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, stdout io.Writer, log *slog.Logger, what served) int {
	if log == nil {
		log = slog.Default()
	}
	remove, err := writeServerFile(what.dir, what.command, ln.Addr(), what.tokenRequired)
	if err != nil {
		// The page works without it; search and ingest then only see
		// DuckDB's lock.
		log.Warn("serve: "+err.Error(), "dir", what.dir)
	} else {
		defer remove()
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "Events page: http://%s/\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		log.Error("serve: HTTP server stopped", "err", err)
		return 1
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("serve: shutdown", "err", err)
	}
	return 0
}
