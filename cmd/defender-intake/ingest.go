package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/defender-intake/defender-intake/internal/envelope"
	"github.com/defender-intake/defender-intake/internal/normalize"
	"github.com/defender-intake/defender-intake/internal/store"
	"github.com/defender-intake/defender-intake/internal/store/storesink"
)

func init() {
	register("ingest", command{
		summary: "load Defender NDJSON/envelope FILEs into the store (progress and summary)",
		run:     ingestCmd,
	})
}

func ingestCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", store.DefaultConfig().Dir, "data `directory` of the store (created when missing)")
	deadLetter := fs.String("dead-letter", "", "NDJSON `file` for input that cannot be normalized (default DIR/dead-letter.ndjson)")
	batch := fs.Int("batch", 5000, "documents per store commit")
	quiet := fs.Bool("quiet", false, "no progress bar")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: defender-intake ingest [--data DIR] [--dead-letter FILE] FILE...")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Normalizes the Defender streaming records in FILEs (envelopes, NDJSON, JSON arrays; '-' is")
		fmt.Fprintln(stderr, "stdin) and stores them for the Events page. Unusable input goes to the dead-letter file.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	if *batch < 1 {
		fmt.Fprintln(stderr, "ingest: --batch must be at least 1")
		return 2
	}
	var total int64
	for _, name := range fs.Args() {
		if name == "-" {
			continue
		}
		fi, err := os.Stat(name)
		if err != nil {
			fmt.Fprintf(stderr, "ingest: %v\n", err)
			return 2
		}
		total += fi.Size()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sc := store.DefaultConfig()
	sc.Dir, sc.MaxAge = *data, 0 // loading files keeps whatever age they have
	st, err := store.Open(ctx, sc, nil)
	if err != nil {
		fmt.Fprintf(stderr, "ingest: %v\n", err)
		return 1
	}
	defer st.Close()
	if *deadLetter == "" {
		*deadLetter = filepath.Join(*data, "dead-letter.ndjson")
	}
	job := &ingestJob{st: st, rejects: &rejects{path: *deadLetter}, batch: *batch, stderr: stderr, n: normalize.New(normalize.Options{})}
	defer job.rejects.close()
	job.startWriter(ctx)
	prog := newProgress(stderr, total, !*quiet)
	job.prog = prog
	start := time.Now()
	for _, name := range fs.Args() {
		if err := job.file(ctx, name, stdin); err != nil {
			werr := job.finish(ctx)
			prog.stop()
			fmt.Fprintf(stderr, "ingest: %v\n", errors.Join(err, werr))
			fmt.Fprintf(stderr, "ingest: stopped after %d stored documents (all of them are committed)\n", job.stored)
			return 1
		}
	}
	if err := job.finish(ctx); err != nil {
		prog.stop()
		fmt.Fprintf(stderr, "ingest: %v\n", err)
		fmt.Fprintf(stderr, "ingest: stopped after %d stored documents (all of them are committed)\n", job.stored)
		return 1
	}
	if err := st.Flush(ctx); err != nil {
		prog.stop()
		fmt.Fprintf(stderr, "ingest: %v\n", err)
		return 1
	}
	prog.stop()
	el := time.Since(start)
	fmt.Fprintf(stdout, "ingested %d documents from %d file(s) in %s (%.0f documents/s) into %s\n",
		job.stored, fs.NArg(), el.Round(time.Millisecond), float64(job.stored)/max(el.Seconds(), 1e-9), st.Path())
	if n := job.rejects.count; n > 0 {
		fmt.Fprintf(stdout, "%d input(s) could not be normalized: kept with their raw bytes in %s\n", n, job.rejects.path)
		return 1
	}
	return 0
}

type ingestJob struct {
	st      *store.Store
	n       *normalize.Normalizer
	rejects *rejects // into the dead-letter file; the progress bar owns stderr
	batch   int
	stderr  io.Writer
	prog    *progress
	docs    []store.Doc
	stored  int64 // read after finish

	// Normalizing and storing run in two goroutines so that the time of
	// ingest is the slower of the two, not their sum.
	batches chan []store.Doc
	werr    atomic.Pointer[error]
	wdone   chan struct{}
}

func (j *ingestJob) startWriter(ctx context.Context) {
	j.batches = make(chan []store.Doc, 1)
	j.wdone = make(chan struct{})
	go func() {
		defer close(j.wdone)
		for docs := range j.batches {
			if j.werr.Load() != nil {
				continue // drain after a failure
			}
			if err := j.write(ctx, docs); err != nil {
				j.werr.Store(&err)
			}
		}
	}()
}

// finish hands over the last batch and waits until everything is stored.
func (j *ingestJob) finish(ctx context.Context) error {
	err := j.flush(ctx)
	close(j.batches)
	<-j.wdone
	if p := j.werr.Load(); p != nil {
		return *p
	}
	return err
}

func (j *ingestJob) file(ctx context.Context, name string, stdin io.Reader) error {
	in, display, closeInput, err := openInput(name, stdin)
	if err != nil {
		return err
	}
	defer closeInput()
	rd := envelope.NewReader(&countingReader{r: in, n: &j.prog.bytes})
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted: %w", err)
		}
		rec, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		var bad *envelope.Error
		if errors.As(err, &bad) {
			if err := j.rejects.add(ctx, display, bad.Line, "envelope", bad.Reason, bad.Raw); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", display, err)
		}
		// A fresh buffer per document: the batch is stored while the next
		// one is normalized.
		doc, meta, err := j.n.Append(nil, rec.Bytes, normalize.Field{Path: "event.ingested", Value: time.Now().UTC()})
		if err != nil {
			if err := j.rejects.add(ctx, display, rec.Line, "normalize", err.Error(), rec.Bytes); err != nil {
				return err
			}
			continue
		}
		j.docs = append(j.docs, store.Doc{JSON: doc, Timestamp: meta.Timestamp})
		j.prog.records.Add(1)
		if len(j.docs) >= j.batch {
			if err := j.flush(ctx); err != nil {
				return err
			}
		}
	}
}

// flush hands the current batch to the writer.
func (j *ingestJob) flush(ctx context.Context) error {
	if p := j.werr.Load(); p != nil {
		return *p
	}
	if len(j.docs) == 0 {
		return nil
	}
	select {
	case j.batches <- j.docs:
	case <-ctx.Done():
		return ctx.Err()
	}
	j.docs = make([]store.Doc, 0, j.batch)
	return nil
}

// write stores one batch (in the writer goroutine).
func (j *ingestJob) write(ctx context.Context, docs []store.Doc) error {
	err := j.st.Write(ctx, docs)
	var de *store.DocError
	if errors.As(err, &de) {
		// Not JSON objects: the normalizer never emits them, but if it did
		// they are kept, not dropped.
		wrapped := make([]store.Doc, 0, len(de.Failed))
		for _, i := range de.Failed {
			wrapped = append(wrapped, store.Doc{JSON: storesink.Wrap(docs[i].JSON), Timestamp: docs[i].Timestamp})
		}
		err = j.st.Write(ctx, wrapped)
	}
	if err != nil {
		return err
	}
	j.stored += int64(len(docs))
	return nil
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// progress draws "records, records/s, ETA" on stderr: redrawn in place on a
// terminal, one line every 5 s otherwise (logs, CI).
type progress struct {
	w       io.Writer
	total   int64 // bytes of all files; 0 when unknown (stdin)
	records atomic.Int64
	bytes   atomic.Int64
	start   time.Time
	done    chan struct{}
	stopped chan struct{}
	tty     bool
}

func newProgress(w io.Writer, total int64, enabled bool) *progress {
	p := &progress{w: w, total: total, start: time.Now(), done: make(chan struct{}), stopped: make(chan struct{})}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	if !enabled {
		close(p.stopped)
		return p
	}
	every := 5 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	go func() {
		defer close(p.stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				p.draw(true)
				return
			case <-t.C:
				p.draw(false)
			}
		}
	}()
	return p
}

func (p *progress) draw(final bool) {
	el := time.Since(p.start).Seconds()
	recs := p.records.Load()
	rate := float64(recs) / max(el, 1e-9)
	line := fmt.Sprintf("%d records  %.0f records/s", recs, rate)
	if p.total > 0 {
		frac := min(1, float64(p.bytes.Load())/float64(p.total))
		const width = 30
		filled := int(frac * width)
		eta := "--"
		if frac > 0 && !final {
			eta = time.Duration(el * (1 - frac) / frac * float64(time.Second)).Round(time.Second).String()
		} else if final {
			eta = "0s"
		}
		line = fmt.Sprintf("[%s%s] %3.0f%%  %s  ETA %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), frac*100, line, eta)
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r%-100s", line)
		if final {
			fmt.Fprintln(p.w)
		}
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) stop() {
	select {
	case <-p.done:
	default:
		close(p.done)
	}
	<-p.stopped
}
