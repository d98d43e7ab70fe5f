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
	out := bufio.NewWriterSize(stdout, 1<<20)
	defer out.Flush()
	job := &normalizeJob{n: normalize.New(normalize.Options{}), out: out,
		rejects: &rejects{stderr: stderr, path: *deadLetter}, pretty: *pretty}
	defer job.rejects.close()
	for _, name := range inputNames(fs.Args()) {
		if err := job.file(name, stdin); err != nil {
			fmt.Fprintf(stderr, "normalize: %v\n", err)
			return 2
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(stderr, "normalize: write: %v\n", err)
		return 2
	}
	if n := job.rejects.count; n > 0 {
		fmt.Fprintf(stderr, "normalize: %d record(s) normalized, %d input(s) could not be normalized\n", job.done, n)
		return 1
	}
	return 0
}

type normalizeJob struct {
	n       *normalize.Normalizer
	out     *bufio.Writer
	rejects *rejects
	pretty  bool
	buf     []byte
	done    int
}

func (j *normalizeJob) file(name string, stdin io.Reader) error {
	in, display, closeInput, err := openInput(name, stdin)
	if err != nil {
		return err
	}
	defer closeInput()
	rd := envelope.NewReader(in)
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		var bad *envelope.Error
		if errors.As(err, &bad) {
			if err := j.rejects.add(context.Background(), display, bad.Line, "envelope", bad.Reason, bad.Raw); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", display, err)
		}
		doc, _, err := j.n.Append(j.buf[:0], rec.Bytes)
		if err != nil {
			if err := j.rejects.add(context.Background(), display, rec.Line, "normalize", err.Error(), rec.Bytes); err != nil {
				return err
			}
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
