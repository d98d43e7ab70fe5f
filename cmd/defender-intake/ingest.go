package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
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
	force := fs.Bool("force", false, "load files again even when the store already has them")
	setUsage(fs, func(w io.Writer) {
		fmt.Fprintln(w, "usage: defender-intake ingest [--data DIR] [--dead-letter FILE] [--force] FILE...")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Normalizes the Defender streaming records in FILEs (envelopes, NDJSON, JSON arrays; '-' is")
		fmt.Fprintln(w, "stdin) and stores them for the Events page. Unusable input goes to the dead-letter file.")
		fmt.Fprintln(w, "The store remembers the files it loaded: a file loaded before adds nothing (unless --force),")
		fmt.Fprintln(w, "a file that grew adds what is new, and an interrupted load resumes where it stopped.")
	})
	if status, done := parseFlags(fs, args, stdout); done {
		return status
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	if *batch < 1 {
		fmt.Fprintln(stderr, "ingest: --batch must be at least 1")
		return 2
	}
	if err := checkInputFiles(fs.Args()); err != nil {
		fmt.Fprintf(stderr, "ingest: %v\n", err)
		return 2
	}
	if *deadLetter == "" {
		*deadLetter = filepath.Join(*data, "dead-letter.ndjson")
	}
	// The dead-letter file as an input would be read while it is written:
	// its entries, JSON objects, were loaded as documents.
	dlInfo, dlErr := os.Stat(*deadLetter)
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
		if fi.IsDir() {
			// Refused before anything is loaded, as a missing file is.
			fmt.Fprintf(stderr, "ingest: %s is a directory: name the files in it (%s)\n", name, filepath.Join(name, "*.ndjson"))
			return 2
		}
		if dlErr == nil && os.SameFile(fi, dlInfo) {
			fmt.Fprintf(stderr, "ingest: %s is the dead-letter file (--dead-letter %s): it is written while it would be read; replay dead letters with another --dead-letter\n", name, *deadLetter)
			return 2
		}
		total += fi.Size()
	}
	sigCtx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	ctx, cancel := context.WithCancel(sigCtx)
	defer cancel()
	sc := store.DefaultConfig()
	sc.Dir, sc.MaxAge = *data, 0 // loading files keeps whatever age they have
	st, err := store.Open(ctx, sc, nil)
	if isLockError(err) {
		// One process may open a store: say which, and what to do.
		fmt.Fprintf(stderr, "ingest: the store in %s is open in %s: stop it and ingest again, or ingest into another --data DIR\n", *data, lockHolder(*data, err))
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "ingest: %v\n", err)
		return 1
	}
	stClosed := false
	defer func() {
		if !stClosed {
			st.Close()
		}
	}()
	job := &ingestJob{st: st, rejects: &rejects{path: *deadLetter}, batch: *batch, stdout: stdout, n: normalize.New(normalize.Options{}),
		force: *force, stop: cancel, stopAfter: ingestStopAfterInputs}
	defer job.rejects.close()
	// Stored batches are written even after Ctrl-C, so that what was read
	// is stored and recorded, and the next run resumes right after it.
	job.startWriter(context.WithoutCancel(ctx))
	prog := newProgress(stderr, total, !*quiet)
	job.prog = prog
	start := time.Now()
	stopped := func(err error) int {
		werr := job.finish(context.WithoutCancel(ctx))
		prog.stop()
		fmt.Fprintf(stderr, "ingest: %v\n", errors.Join(err, werr))
		if errors.Is(err, context.Canceled) || werr != nil {
			fmt.Fprintf(stderr, "ingest: stopped after %d stored documents (all of them are committed); the same command resumes after them\n", job.stored)
		} else {
			// A file refused (changed since it was loaded, a damaged
			// record): running the same command again changes nothing.
			fmt.Fprintf(stderr, "ingest: stopped after %d stored documents (all of them are committed); fix the cause above, then the same command resumes after them\n", job.stored)
		}
		return 1
	}
	for _, name := range fs.Args() {
		if err := job.file(ctx, name, stdin); err != nil {
			return stopped(err)
		}
	}
	// Everything is read: the bar would sit at 100% while the last
	// batches are stored, loaded into DuckDB and indexed. Say so.
	prog.setPhase("storing the last batches")
	if err := job.finish(ctx); err != nil {
		return stopped(err)
	}
	prog.setPhase("loading into DuckDB")
	if err := st.Flush(ctx); err != nil {
		prog.stop()
		fmt.Fprintf(stderr, "ingest: %v\n", err)
		return 1
	}
	prog.setPhase("indexing and checkpointing")
	path := st.Path()
	stClosed = true
	if err := st.Close(); err != nil {
		prog.stop()
		fmt.Fprintf(stderr, "ingest: %v\n", err)
		return 1
	}
	prog.stop()
	el := time.Since(start)
	fmt.Fprintf(stdout, "ingested %d documents from %d file(s) in %s (%.0f documents/s) into %s\n",
		job.stored, fs.NArg(), el.Round(time.Millisecond), float64(job.stored)/max(el.Seconds(), 1e-9), path)
	if job.already > 0 {
		fmt.Fprintf(stdout, "%d file(s) were already in the store and added nothing (--force loads them again)\n", job.already)
	}
	if n := job.rejects.count; n > 0 {
		fmt.Fprintf(stdout, "%d input(s) could not be normalized: kept with their raw bytes in %s\n", n, job.rejects.path)
		return 1
	}
	return 0
}

// ingestStopAfterInputs, when > 0, makes ingest stop as on Ctrl-C after
// reading that many inputs: a hook for the tests of resuming.
var ingestStopAfterInputs int64

type ingestJob struct {
	st      *store.Store
	n       *normalize.Normalizer
	rejects *rejects // into the dead-letter file; the progress bar owns stderr
	batch   int
	stdout  io.Writer
	prog    *progress
	docs    []store.Doc
	stored  int64 // read after finish
	force   bool
	already int // files skipped: the store had all of them
	// loadedNow holds the files (head fingerprints) this run loads, so
	// that --force loads one named twice only once.
	loadedNow map[string]bool

	stop      context.CancelFunc
	stopAfter int64 // see ingestStopAfterInputs
	inputs    int64 // inputs read (not skipped) in this run

	// Normalizing and storing run in two goroutines so that the time of
	// ingest is the slower of the two, not their sum.
	batches chan ingestBatch
	werr    atomic.Pointer[error]
	wdone   chan struct{}
}

// ingestBatch is documents to store and, when mark is set, the file
// record to save once they are durable.
type ingestBatch struct {
	docs []store.Doc
	mark *store.LoadedFile
	// settled, when set, is closed once the batch (and all before it)
	// is dealt with: see settle.
	settled chan struct{}
}

func (j *ingestJob) startWriter(ctx context.Context) {
	j.batches = make(chan ingestBatch, 1)
	j.wdone = make(chan struct{})
	go func() {
		defer close(j.wdone)
		for b := range j.batches {
			if j.werr.Load() == nil { // else drain after a failure
				if err := j.write(ctx, b); err != nil {
					j.werr.Store(&err)
				}
			}
			if b.settled != nil {
				close(b.settled)
			}
		}
	}()
}

// finish hands over the last batch and waits until everything is stored.
func (j *ingestJob) finish(ctx context.Context) error {
	err := j.flush(ctx, nil)
	close(j.batches)
	<-j.wdone
	if p := j.werr.Load(); p != nil {
		return *p
	}
	return err
}

func (j *ingestJob) file(ctx context.Context, name string, stdin io.Reader) error {
	if name == "-" {
		return j.read(ctx, stdin, "stdin", nil)
	}
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	// The same file may be named twice (a/x and ./x, a link, a copy):
	// plan must see what this run recorded of the files before it.
	if err := j.settle(ctx); err != nil {
		return err
	}
	lf, load, err := j.plan(f, name)
	if err != nil || !load {
		return err
	}
	return j.read(ctx, f, name, lf)
}

// read loads one input. With lf (a file the store keeps a record of), the
// first lf.Inputs inputs are skipped: they were loaded before.
func (j *ingestJob) read(ctx context.Context, in io.Reader, display string, lf *fileLoad) error {
	cr := &countingReader{r: in, n: &j.prog.bytes}
	if lf != nil {
		cr.hash = sha256.New()
	}
	rd := envelope.NewReader(cr)
	var consumed int64 // inputs of this file dealt with, in order
	for {
		if err := ctx.Err(); err != nil {
			if err := j.flush(context.WithoutCancel(ctx), lf.mark(consumed, cr, false)); err != nil {
				return err
			}
			return fmt.Errorf("interrupted: %w", err)
		}
		rec, err := rd.Next()
		if err == io.EOF {
			return j.flush(ctx, lf.done(consumed, cr))
		}
		var bad *envelope.Error
		isBad := errors.As(err, &bad)
		if err != nil && !isBad {
			return fmt.Errorf("%s: %w", display, err)
		}
		line := rec.Line
		if isBad {
			line = bad.Line
		}
		consumed++
		if lf.input(consumed, line) {
			continue // loaded by an earlier run
		}
		j.inputs++
		if j.stopAfter > 0 && j.inputs == j.stopAfter {
			j.stop()
		}
		if isBad {
			lf.rejected()
			if err := j.rejects.add(ctx, display, bad.Line, "envelope", bad.Reason, bad.Raw); err != nil {
				return err
			}
			continue
		}
		// A fresh buffer per document: the batch is stored while the next
		// one is normalized.
		doc, meta, err := j.n.Append(nil, rec.Bytes, normalize.Field{Path: "event.ingested", Value: time.Now().UTC()})
		if err != nil {
			lf.rejected()
			if err := j.rejects.add(ctx, display, rec.Line, "normalize", err.Error(), rec.Bytes); err != nil {
				return err
			}
			continue
		}
		j.docs = append(j.docs, store.Doc{JSON: doc, Timestamp: meta.Timestamp})
		lf.stored()
		j.prog.records.Add(1)
		if len(j.docs) >= j.batch {
			if err := j.flush(ctx, lf.mark(consumed, cr, false)); err != nil {
				return err
			}
		}
	}
}

// settle waits until every batch handed to the writer is stored and the
// file records after them are saved.
func (j *ingestJob) settle(ctx context.Context) error {
	settled := make(chan struct{})
	if err := j.send(ctx, ingestBatch{docs: j.docs, settled: settled}); err != nil {
		return err
	}
	select {
	case <-settled:
	case <-ctx.Done():
		return ctx.Err()
	}
	if p := j.werr.Load(); p != nil {
		return *p
	}
	return nil
}

// flush hands the current batch, and the file record to save after it,
// to the writer.
func (j *ingestJob) flush(ctx context.Context, mark *store.LoadedFile) error {
	if p := j.werr.Load(); p != nil {
		return *p
	}
	// The dead letters of the input the mark covers are durable first.
	if err := j.rejects.flush(ctx); err != nil {
		return err
	}
	if len(j.docs) == 0 && mark == nil {
		return nil
	}
	return j.send(ctx, ingestBatch{docs: j.docs, mark: mark})
}

func (j *ingestJob) send(ctx context.Context, b ingestBatch) error {
	if p := j.werr.Load(); p != nil {
		return *p
	}
	select {
	case j.batches <- b:
	case <-ctx.Done():
		return ctx.Err()
	}
	j.docs = make([]store.Doc, 0, j.batch)
	return nil
}

// write stores one batch, then records how far its file is loaded (in the
// writer goroutine).
func (j *ingestJob) write(ctx context.Context, b ingestBatch) error {
	if len(b.docs) > 0 {
		err := j.st.Write(ctx, b.docs)
		var de *store.DocError
		if errors.As(err, &de) {
			// Not JSON objects: the normalizer never emits them, but if it
			// did they are kept, not dropped.
			wrapped := make([]store.Doc, 0, len(de.Failed))
			for _, i := range de.Failed {
				wrapped = append(wrapped, store.Doc{JSON: storesink.Wrap(b.docs[i].JSON), Timestamp: b.docs[i].Timestamp})
			}
			err = j.st.Write(ctx, wrapped)
		}
		if err != nil {
			return err
		}
		j.stored += int64(len(b.docs))
	}
	if b.mark != nil {
		return j.st.SaveLoadedFile(*b.mark)
	}
	return nil
}
