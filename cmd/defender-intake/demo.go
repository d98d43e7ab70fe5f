package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/defender-intake/defender-intake/internal/alertapi"
	"github.com/defender-intake/defender-intake/internal/detect/detectsink"
	"github.com/defender-intake/defender-intake/internal/normalize"
	"github.com/defender-intake/defender-intake/internal/sample"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/store"
	"github.com/defender-intake/defender-intake/internal/store/storesink"
	"github.com/defender-intake/defender-intake/internal/web"
)

func init() {
	register("demo", command{
		summary: "try it without Azure: the sample records, detection and the Events page on 127.0.0.1",
		run:     demoCmd,
	})
}

func demoCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := web.DefaultConfig()
	data := fs.String("data", "", "data `directory` of the demo store (default: a new temporary directory)")
	keep := fs.Bool("keep", false, "keep the demo store at exit (serve it again with `serve --data DIR`)")
	listen := fs.String("listen", def.Listen, "`address` to serve on (loopback; when the default port is taken, a free one)")
	tokenFile := fs.String("token-file", "", "`file` holding the API bearer token (else $"+web.TokenEnv+"); needed to listen off loopback")
	keepTimes := fs.Bool("original-times", false, "keep the sample's own times (20 November 2026) instead of moving them to end now")
	var ruleDirs fileList
	fs.Var(&ruleDirs, "rules", "Sigma rule `directory`, read recursively, besides the built-in rules (repeatable)")
	setUsage(fs, func(w io.Writer) {
		fmt.Fprintln(w, "usage: defender-intake demo [--rules DIR]... [--listen ADDR] [--token-file FILE] [--data DIR] [--keep] [--original-times]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Loads the sample Defender XDR records shipped in the binary into a fresh store, runs")
		fmt.Fprintln(w, "detection on them, and serves the Events page until Ctrl-C. No Azure account needed.")
	})
	if status, done := parseFlags(fs, args, stdout); done {
		return status
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "demo: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	listenSet := false
	fs.Visit(func(f *flag.Flag) { listenSet = listenSet || f.Name == "listen" })
	cfg := def
	cfg.Listen, cfg.TokenFile = *listen, *tokenFile
	token, err := cfg.LoadToken()
	if err == nil {
		err = cfg.Validate(token)
	}
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir, created, err := demoDir(*data)
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 1
	}
	code := runDemo(ctx, demoOptions{dir: dir, rules: ruleDirs, shift: !*keepTimes, cfg: cfg, listenSet: listenSet, token: token}, stdout, stderr, log)
	switch {
	case created && !*keep:
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintf(stderr, "demo: removing %s: %v\n", dir, err)
			return 1
		}
		fmt.Fprintf(stdout, "removed the demo store %s\n", dir)
	default:
		fmt.Fprintf(stdout, "kept the demo store: defender-intake serve --data %s\n", dir)
	}
	return code
}

// demoDir returns the store directory and whether the demo created it
// (then it is removed at exit unless --keep).
func demoDir(data string) (string, bool, error) {
	if data == "" {
		dir, err := os.MkdirTemp("", "defender-intake-demo-")
		return dir, err == nil, err
	}
	if _, err := os.Stat(filepath.Join(data, store.FileName)); err == nil {
		// Loading the sample again would show every event twice.
		return "", false, fmt.Errorf("%s already holds a store: give a new or empty directory (or look at it with `defender-intake serve --data %s`)", data, data)
	}
	if _, err := os.Stat(data); err == nil {
		return data, false, nil
	}
	if err := os.MkdirAll(data, 0o750); err != nil {
		return "", false, err
	}
	return data, true, nil
}

type demoOptions struct {
	dir       string
	rules     []string
	shift     bool
	cfg       web.Config
	listenSet bool
	token     string
}

func runDemo(ctx context.Context, o demoOptions, stdout, stderr io.Writer, log *slog.Logger) int {
	sc := store.DefaultConfig()
	sc.Dir, sc.MaxAge = o.dir, 0 // the sample's times are whatever they are: nothing is deleted
	st, err := storesink.Acquire(ctx, sc, log)
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 1
	}
	defer func() {
		if err := storesink.Release(st); err != nil {
			fmt.Fprintf(stderr, "demo: closing the store: %v\n", err)
		}
	}()
	loaded, err := loadSample(ctx, st, o, log)
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", o.cfg.Listen)
	if err != nil && !o.listenSet {
		ln, err = net.Listen("tcp", "127.0.0.1:0") // the default port is taken: any free one
	}
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "loaded %d sample events from %d Defender tables into %s\n", loaded.events, len(loaded.tables), o.dir)
	if loaded.shift != 0 {
		fmt.Fprintf(stdout, "their times were moved by %s so that the newest is a minute old (their spacing is kept)\n", fmtShift(loaded.shift))
	}
	fmt.Fprintf(stdout, "detection: %d alert(s) from the built-in rules", loaded.alerts)
	if len(o.rules) > 0 {
		fmt.Fprintf(stdout, " and %d rule directory(ies)", len(o.rules))
	}
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "Alerts view: http://%s/?view=alerts\n", ln.Addr())
	fmt.Fprintln(stdout, "Ctrl-C stops the demo.")
	h := web.New(web.Options{Store: st, Config: o.cfg, Token: o.token, Logger: log, Alerts: alertapi.Handler(log, st)})
	return serveHTTP(ctx, ln, h, stdout, log, served{dir: o.dir, command: "demo", tokenRequired: o.token != ""})
}

type demoLoad struct {
	events, alerts int
	tables         map[string]bool
	shift          time.Duration
}

// loadSample normalizes the sample into the store and runs the detection
// sink on the same documents, as `run` does with a store sink and a
// detection sink on one directory.
func loadSample(ctx context.Context, st *store.Store, o demoOptions, log *slog.Logger) (demoLoad, error) {
	var end time.Time
	if o.shift {
		end = time.Now().UTC().Add(-time.Minute)
	}
	recs, by, err := sample.Records(end)
	if err != nil {
		return demoLoad{}, err
	}
	out := demoLoad{tables: map[string]bool{}, shift: by}
	n := normalize.New(normalize.Options{})
	var docs []sink.Doc
	var stDocs []store.Doc
	for i, r := range recs {
		doc, meta, err := n.Append(nil, r, normalize.Field{Path: "event.ingested", Value: time.Now().UTC()})
		if err != nil {
			return out, fmt.Errorf("sample record %d: %w", i+1, err)
		}
		docs = append(docs, sink.Doc{JSON: doc, Dataset: meta.Dataset, Timestamp: meta.Timestamp, Raw: r})
		stDocs = append(stDocs, store.Doc{JSON: doc, Timestamp: meta.Timestamp})
		out.tables[meta.Category] = true
	}
	if err := st.Write(ctx, stDocs); err != nil {
		return out, err
	}
	if err := st.Flush(ctx); err != nil {
		return out, err
	}
	out.events = len(stDocs)
	dc := *detectsink.DefaultConfig()
	dc.Store, dc.Rules.Dirs = o.dir, o.rules
	ds, err := detectsink.Open("demo", dc, sink.Env{Logger: log})
	if err != nil {
		return out, err
	}
	werr := ds.Write(ctx, docs)
	if err := errors.Join(werr, ds.Close()); err != nil {
		return out, err
	}
	page, err := st.Alerts(ctx, store.AlertFilter{Limit: 1})
	if err != nil {
		return out, err
	}
	out.alerts = page.Total
	return out, nil
}

// fmtShift says how far the sample moved, in days and hours.
func fmtShift(d time.Duration) string {
	days := int(d / (24 * time.Hour))
	rest := (d % (24 * time.Hour)).Round(time.Minute)
	switch {
	case days == 0:
		return rest.String()
	case rest == 0:
		return fmt.Sprintf("%d day(s)", days)
	}
	return fmt.Sprintf("%d day(s) %s", days, rest)
}
