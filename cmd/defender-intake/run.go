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
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/deadletter"
	"github.com/defender-intake/defender-intake/internal/metrics"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/source"

	// Component types register themselves.
	_ "github.com/defender-intake/defender-intake/internal/sink/file"
	_ "github.com/defender-intake/defender-intake/internal/sink/stdout"
	_ "github.com/defender-intake/defender-intake/internal/source/eventhub"
	_ "github.com/defender-intake/defender-intake/internal/source/file"
	_ "github.com/defender-intake/defender-intake/internal/source/http"
	_ "github.com/defender-intake/defender-intake/internal/source/kafka"
)

func init() {
	register("run", command{summary: "collect, normalize and deliver: run --config FILE", run: runCmd})
}

// HTTPMount adds handlers to the service's HTTP server (the Events page,
// an API). sinks are the opened sinks by configured name, for handlers
// that read what a sink stores; srv is the server's configuration (its
// API token: srv.WebToken()). It returns what it mounted, for the log
// line that gives its URL (the zero value when the configuration has
// nothing for it).
type HTTPMount func(mux *http.ServeMux, sinks map[string]sink.Sink, srv config.Server) (mounted, error)

// mounted names what an HTTPMount serves and at which path; dataDir is
// the store it serves the Events page of, where the server's address is
// recorded while it runs (see serverFileName).
type mounted struct {
	name, path, dataDir string
}

var httpMounts []HTTPMount

// extraMetrics are registries of components that keep their own metrics,
// served on /metrics with the service's; add to it from an init.
var extraMetrics []prometheus.Gatherer

// mountHTTP registers m; call it from an init in the component's own file
// of this package.
func mountHTTP(m HTTPMount) { httpMounts = append(httpMounts, m) }

func runCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "defender-intake.yaml", "configuration `file` (see examples/config.yaml)")
	setUsage(fs, func(w io.Writer) {
		fmt.Fprintln(w, "usage: defender-intake run [--config FILE]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Runs the service: collects from the configured sources, normalizes to ECS, detects,")
		fmt.Fprintln(w, "stores and forwards until SIGINT or SIGTERM (SIGHUP reloads the detection rules).")
	})
	if status, done := parseFlags(fs, args, stdout); done {
		return status
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "run: unexpected argument %q (the configuration is --config FILE)\n", fs.Arg(0))
		return 2
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	log := newLogger(cfg.Log, stderr)
	// Components that log through the default logger follow log.level and
	// log.format too.
	slog.SetDefault(log)
	// SIGHUP reloads what supports it (detection rules); components listen
	// for it themselves. Catching it here as well keeps a SIGHUP that comes
	// before they are open from killing the process (Go's default).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			log.Debug("SIGHUP received")
		}
	}()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-ctx.Done():
			log.Info("stopping: delivering what was read, then recording positions (signal again to abort)")
			stop() // a second signal kills the process
		case <-finished:
		}
	}()
	if err := runService(ctx, cfg, log); err != nil {
		log.Error("stopped with error", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// runService wires the configured components and runs until ctx ends or
// every source has finished.
func runService(ctx context.Context, cfg *config.Config, log *slog.Logger) (err error) {
	m := metrics.New()
	sinks := make([]sink.Sink, 0, len(cfg.Sinks))
	byName := map[string]sink.Sink{}
	defer func() {
		if err != nil {
			for _, s := range sinks {
				s.Close()
			}
		}
	}()
	for _, c := range cfg.Sinks {
		f, _ := sink.Lookup(c.Type)
		s, err := f.OpenSink(c.Name, c.Section, sink.Env{Logger: log.With("sink", c.Name), Registerer: m.Registry})
		if err != nil {
			return fmt.Errorf("open sink %s: %w", c.Name, err)
		}
		sinks = append(sinks, s)
		byName[c.Name] = s
	}
	dl, err := deadletter.OpenFile(cfg.DeadLetter.Path)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	env := source.Env{Logger: log, Metrics: m, Mux: mux}
	sources := make([]pipeline.Source, 0, len(cfg.Sources))
	for _, c := range cfg.Sources {
		f, _ := source.Lookup(c.Type)
		s, err := f.Open(c.Name, c.Section, env)
		if err != nil {
			dl.Close()
			return fmt.Errorf("open source %s: %w", c.Name, err)
		}
		sources = append(sources, s)
	}
	p := pipeline.New(pipeline.Options{
		Sinks: sinks, DeadLetter: dl, Metrics: m, Logger: log,
		Workers: cfg.Pipeline.Workers, QueueBatches: cfg.Pipeline.QueueBatches,
		RetryInitial: cfg.Pipeline.RetryInitial, RetryMax: cfg.Pipeline.RetryMax, DrainTimeout: cfg.Pipeline.DrainTimeout,
	})
	mux.Handle("GET /metrics", m.Handler(extraMetrics...))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !p.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		if err := sinksUnavailable(byName); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	var pages []mounted
	for _, mount := range httpMounts {
		m, err := mount(mux, byName, cfg.Server)
		if err != nil {
			dl.Close()
			return fmt.Errorf("mount HTTP handlers: %w", err)
		}
		if m.path != "" {
			pages = append(pages, m)
		}
	}
	var srv *http.Server
	if cfg.Server.Listen != "" {
		ln, err := net.Listen("tcp", cfg.Server.Listen)
		if err != nil {
			dl.Close()
			return fmt.Errorf("server.listen: %w", err)
		}
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("HTTP server failed", "err", err)
			}
		}()
		log.Info("serving /metrics, /healthz, /readyz", "addr", ln.Addr().String())
		for _, pg := range pages {
			// The bound address, so that port 0 gives the real port.
			log.Info(pg.name, "url", "http://"+ln.Addr().String()+pg.path)
			if pg.dataDir == "" {
				continue
			}
			if remove, err := writeServerFile(pg.dataDir, "run", ln.Addr(), cfg.Server.WebToken() != ""); err != nil {
				log.Warn(err.Error(), "dir", pg.dataDir)
			} else {
				defer remove()
			}
		}
	} else if len(pages) > 0 {
		log.Warn("server.listen is empty: the Events page and its API are not served")
	}
	log.Info("running", "sources", len(sources), "sinks", len(sinks), "dead_letter", cfg.DeadLetter.Path)
	err = p.Run(ctx, sources) // closes sinks and the dead-letter file
	sinks = nil
	if n := deadLettered(m); err == nil && ctx.Err() == nil && n > 0 {
		err = fmt.Errorf("%d input(s) could not be normalized: kept with their raw bytes in %s", n, cfg.DeadLetter.Path)
	}
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		srv.Shutdown(sctx)
		cancel()
	}
	return err
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(c.Level)) // validated already
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
