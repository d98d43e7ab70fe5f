package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/defender-intake/defender-intake/internal/deadletter"
	"github.com/defender-intake/defender-intake/internal/envelope"
	"github.com/defender-intake/defender-intake/internal/normalize"
)

func init() {
	register("normalize", command{
		summary: "print one ECS document per Defender record of FILEs (or stdin)",
		run:     normalizeCmd,
	})
}

func normalizeCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("normalize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pretty := fs.Bool("pretty", false, "indent the documents for people (one document per block instead of per line)")
	deadLetter := fs.String("dead-letter", "", "append what cannot be normalized to this NDJSON `file`, with its raw bytes and the reason")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: defender-intake normalize [--pretty] [--dead-letter FILE] [FILE...]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Reads Defender XDR streaming records (Event Hub envelopes {\"records\":[...]}, bare records,")
		fmt.Fprintln(stderr, "JSON arrays; one per line or pretty-printed) from FILEs or stdin and prints one ECS document")
		fmt.Fprintln(stderr, "per record, in input order. Exits 1 when anything could not be normalized.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var dl *deadletter.File
	if *deadLetter != "" {
		f, err := deadletter.OpenFile(*deadLetter)
		if err != nil {
			fmt.Fprintf(stderr, "normalize: %v\n", err)
			return 2
		}
		defer f.Close()
		dl = f
	}
	out := bufio.NewWriterSize(stdout, 1<<20)
	defer out.Flush()
	job := &normalizeJob{n: normalize.New(normalize.Options{}), out: out, stderr: stderr, dl: dl, pretty: *pretty}
	inputs := fs.Args()
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	for _, name := range inputs {
		if err := job.file(name, stdin); err != nil {
			fmt.Fprintf(stderr, "normalize: %v\n", err)
			return 2
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(stderr, "normalize: write: %v\n", err)
		return 2
	}
	if job.failed > 0 {
		fmt.Fprintf(stderr, "normalize: %d record(s) normalized, %d input(s) could not be normalized\n", job.done, job.failed)
		return 1
	}
	return 0
}

type normalizeJob struct {
	n      *normalize.Normalizer
	out    *bufio.Writer
	stderr io.Writer
	dl     *deadletter.File
	pretty bool
	buf    []byte
	done   int
	failed int
}

func (j *normalizeJob) file(name string, stdin io.Reader) error {
	in, display := stdin, "stdin"
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in, display = f, name
	}
	rd := envelope.NewReader(in)
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		var bad *envelope.Error
		if errors.As(err, &bad) {
			j.reject(display, bad.Line, "envelope", bad.Reason, bad.Raw)
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", display, err)
		}
		doc, _, err := j.n.Append(j.buf[:0], rec.Bytes)
		if err != nil {
			j.reject(display, rec.Line, "normalize", err.Error(), rec.Bytes)
			continue
		}
		j.buf = doc
		if j.pretty {
			var ind bytes.Buffer
			if json.Indent(&ind, doc, "", "  ") == nil {
				doc = ind.Bytes()
			}
		}
		j.out.Write(doc)
		j.out.WriteByte('\n')
		j.done++
	}
}

// reject reports unusable input on stderr and, when asked, in the
// dead-letter file, so that nothing read is lost silently.
func (j *normalizeJob) reject(file string, line int, stage, reason string, raw []byte) {
	j.failed++
	fmt.Fprintf(j.stderr, "%s:%d: %s\n", file, line, reason)
	if j.dl == nil {
		return
	}
	err := j.dl.Write(context.Background(), []deadletter.Entry{{
		Time: time.Now(), Reason: fmt.Sprintf("line %d: %s", line, reason), Stage: stage,
		Source: "file", Type: "file", Stream: file, Offset: -1, SequenceNumber: -1,
		Raw: append([]byte(nil), raw...),
	}})
	if err != nil {
		fmt.Fprintf(j.stderr, "normalize: dead-letter: %v\n", err)
	}
}
