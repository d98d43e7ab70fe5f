package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
	"github.com/defender-intake/defender-intake/internal/detect/detector"
	"github.com/defender-intake/defender-intake/internal/detect/rules"
	"github.com/defender-intake/defender-intake/internal/envelope"
	"github.com/defender-intake/defender-intake/internal/normalize"
)

func init() {
	register("rules", command{
		summary: "check Sigma rule directories, or test rules on Defender record files",
		run:     rulesCmd,
	})
}

func rulesUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: defender-intake rules check [--field-map FILE]... [--placeholders FILE] [--strict] DIR...")
	fmt.Fprintln(w, "       defender-intake rules test --rules DIR [--rules DIR]... [--no-builtin] [--field-map FILE]...")
	fmt.Fprintln(w, "                                  [--placeholders FILE] [--dead-letter FILE] FILE...")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "check loads and compiles the rules and prints the loaded and skipped counts and each")
	fmt.Fprintln(w, "skip reason. test normalizes the Defender records of FILEs (- for stdin) and prints one")
	fmt.Fprintln(w, "JSON line per match: rule id, title, level, author, and the record's file, line and ordinal;")
	fmt.Fprintln(w, "correlation rules, evaluated in input order on the records' own times, add a line when they fire.")
}

func rulesCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		rulesUsage(stderr)
		return 2
	}
	switch args[0] {
	case "check":
		return rulesCheck(args[1:], stdout, stderr)
	case "test":
		return rulesTest(args[1:], stdin, stdout, stderr)
	case "-h", "--help", "help":
		rulesUsage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "rules: unknown subcommand %q\n\n", args[0])
	rulesUsage(stderr)
	return 2
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func rulesCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rules check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var fieldMaps stringList
	fs.Var(&fieldMaps, "field-map", "extra field mapping `file` (repeatable)")
	strict := fs.Bool("strict", false, "exit 1 when any rule is skipped")
	placeholders := fs.String("placeholders", "", "YAML `file` of %placeholder% values for the expand modifier")
	setUsage(fs, rulesUsage)
	if status, done := parseFlags(fs, args, stdout); done {
		return status
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	eng, _, err := rules.Load(rules.Config{Dirs: fs.Args(), NoBuiltin: true, FieldMaps: fieldMaps, PlaceholdersFile: *placeholders})
	if err != nil {
		fmt.Fprintf(stderr, "rules check: %v\n", err)
		return 2
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	skipped := eng.Skipped()
	fmt.Fprintf(out, "loaded %d rule(s), skipped %d\n", len(eng.Rules())+len(eng.Correlations()), len(skipped))
	if n := len(eng.Correlations()); n > 0 {
		fmt.Fprintf(out, "(%d of them correlation rule(s))\n", n)
	}
	counts := map[string]int{}
	for _, s := range skipped {
		counts[s.Reason]++
		line := s.Path + ": " + s.Reason
		if s.Detail != "" {
			line += ": " + s.Detail
		}
		fmt.Fprintf(out, "skipped %s\n", line)
	}
	if len(counts) > 0 {
		reasons := make([]string, 0, len(counts))
		for r := range counts {
			reasons = append(reasons, r)
		}
		sort.Slice(reasons, func(i, j int) bool {
			if counts[reasons[i]] != counts[reasons[j]] {
				return counts[reasons[i]] > counts[reasons[j]]
			}
			return reasons[i] < reasons[j]
		})
		fmt.Fprintln(out, "skip reasons:")
		for _, r := range reasons {
			fmt.Fprintf(out, "  %5d %s\n", counts[r], r)
		}
	}
	if *strict && len(skipped) > 0 {
		return 1
	}
	return 0
}

// matchLine is one line of `rules test` output.
type matchLine struct {
	RuleID string `json:"rule_id"`
	Title  string `json:"title"`
	// Level is the alert's level: the rule's, or Defender's severity for
	// the built-in Defender alert rules.
	Level  string `json:"level"`
	Author string `json:"author,omitempty"`
	// AlertTitle is Defender's own title for Defender alerts.
	AlertTitle string `json:"alert_title,omitempty"`
	File       string `json:"file"`
	Line       int    `json:"line"`
	// Record is the record's ordinal in the file (several records can
	// share a line in an Event Hub envelope).
	Record int `json:"record"`
	// Correlation lines: a correlation rule fired on this record, for the
	// Group (its group-by values) with Count events, values or rules.
	Correlation bool     `json:"correlation,omitempty"`
	Group       []string `json:"group,omitempty"`
	Count       int      `json:"count,omitempty"`
}

func rulesTest(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rules test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dirs, fieldMaps stringList
	fs.Var(&dirs, "rules", "rule `dir` or file (repeatable)")
	fs.Var(&fieldMaps, "field-map", "extra field mapping `file` (repeatable)")
	noBuiltin := fs.Bool("no-builtin", false, "leave out the built-in Defender alert rules")
	placeholders := fs.String("placeholders", "", "YAML `file` of %placeholder% values for the expand modifier")
	deadLetter := fs.String("dead-letter", "", "append what cannot be read or normalized to this NDJSON `file`, with its raw bytes and the reason")
	setUsage(fs, rulesUsage)
	if status, done := parseFlags(fs, args, stdout); done {
		return status
	}
	rej := &rejects{stderr: stderr, path: *deadLetter}
	defer rej.close()
	reject := func(file string, line int, stage, reason string, raw []byte) {
		if err := rej.add(context.Background(), file, line, stage, reason, raw); err != nil {
			fmt.Fprintf(stderr, "rules test: %v\n", err)
		}
	}
	if len(dirs) == 0 && *noBuiltin {
		fmt.Fprintln(stderr, "rules test: no rules: give --rules DIR")
		return 2
	}
	if err := checkInputFiles(fs.Args()); err != nil {
		fmt.Fprintf(stderr, "rules test: %v\n", err)
		return 2
	}
	eng, m, err := rules.Load(rules.Config{Dirs: dirs, NoBuiltin: *noBuiltin, FieldMaps: fieldMaps, PlaceholdersFile: *placeholders})
	if err != nil {
		fmt.Fprintf(stderr, "rules test: %v\n", err)
		return 2
	}
	if n := len(eng.Skipped()); n > 0 {
		fmt.Fprintf(stderr, "rules test: %d rule(s) skipped (see `defender-intake rules check`)\n", n)
	}
	w := detector.NewShared(eng, m, alerts.Config{}).NewWorker()
	norm := normalize.New(normalize.Options{})
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	var buf []byte
	for _, name := range inputNames(fs.Args()) {
		ordinal := 0
		in, display, closeInput, err := openInput(name, stdin)
		if err != nil {
			fmt.Fprintf(stderr, "rules test: %v\n", err)
			return 2
		}
		defer closeInput()
		rd := envelope.NewReader(in)
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				break
			}
			ordinal++
			var bad *envelope.Error
			if errors.As(err, &bad) {
				reject(display, bad.Line, "envelope", bad.Reason, bad.Raw)
				continue
			}
			if err != nil {
				fmt.Fprintf(stderr, "rules test: %s: %v\n", display, err)
				return 2
			}
			doc, meta, err := norm.Append(buf[:0], rec.Bytes)
			if err != nil {
				reject(display, rec.Line, "normalize", err.Error(), rec.Bytes)
				continue
			}
			buf = doc
			matched, err := w.Match(rec.Bytes, doc)
			if err != nil {
				reject(display, rec.Line, "normalize", err.Error(), rec.Bytes)
				continue
			}
			for _, r := range matched {
				d := w.Describe(r)
				line := matchLine{RuleID: r.ID, Title: r.Title, Level: d.Level, Author: r.Author, AlertTitle: d.Title,
					File: display, Line: rec.Line, Record: ordinal}
				if err := enc.Encode(line); err != nil {
					fmt.Fprintf(stderr, "rules test: write: %v\n", err)
					return 2
				}
			}
			for _, f := range w.Correlate(matched, meta.Timestamp) {
				c := f.Correlation
				line := matchLine{RuleID: c.ID, Title: c.Title, Level: c.Level, Author: c.Author,
					File: display, Line: rec.Line, Record: ordinal, Correlation: true, Group: f.Group, Count: f.Count}
				if err := enc.Encode(line); err != nil {
					fmt.Fprintf(stderr, "rules test: write: %v\n", err)
					return 2
				}
			}
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(stderr, "rules test: write: %v\n", err)
		return 2
	}
	if err := rej.close(); err != nil {
		fmt.Fprintf(stderr, "rules test: %v\n", err)
		return 2
	}
	if failed := rej.count; failed > 0 {
		fmt.Fprintf(stderr, "rules test: %d input(s) could not be read or normalized\n", failed)
		return 1
	}
	return 0
}
