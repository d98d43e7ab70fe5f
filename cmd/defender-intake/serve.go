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
	"syscall"
	"time"

	"github.com/defender-intake/defender-intake/internal/store"
	"github.com/defender-intake/defender-intake/internal/web"
)

func init() {
	register("serve", command{
		summary: "serve the Events page and its API on an existing store",
		run:     serveCmd,
	})
}

func serveCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := web.DefaultConfig()
	data := fs.String("data", store.DefaultConfig().Dir, "data `directory` of the store")
	listen := fs.String("listen", def.Listen, "`address` to listen on; anything but loopback needs a token")
	tokenFile := fs.String("token-file", "", "`file` holding the API bearer token (else $"+web.TokenEnv+")")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: defender-intake serve [--data DIR] [--listen ADDR] [--token-file FILE]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Serves the Events page and /api/ on the store in DIR (one process at a time may open it).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
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
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 1
	}
	return serveHTTP(ctx, ln, web.New(web.Options{Store: st, Config: cfg, Token: token, Logger: log}), stdout, log)
}

// serveHTTP serves h on ln until ctx ends, printing the page's address.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, stdout io.Writer, log *slog.Logger) int {
	if log == nil {
		log = slog.Default()
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
