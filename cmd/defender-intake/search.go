package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/defender-intake/defender-intake/internal/query"
	"github.com/defender-intake/defender-intake/internal/store"
	"github.com/defender-intake/defender-intake/internal/web"
)

func init() {
	register("search", command{
		summary: "search the store: print matching events as a table or NDJSON",
		run:     searchCmd,
	})
}

func searchCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("search", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", store.DefaultConfig().Dir, "data `directory` of the store")
	from := fs.String("from", "now-24h", "start of the time range (RFC 3339, date, or now-15m); without --from and --to,\nthe 24 hours up to the newest event when the last 24 hours hold none")
	to := fs.String("to", "now", "end of the time range")
	limit := fs.Int("limit", 100, "print at most this many events (newest first); 0 for all")
	format := fs.String("format", "table", "output `format`: table or ndjson (whole ECS documents)")
	tokenFile := fs.String("token-file", "", "`file` holding the API token of the server holding the store, when it needs one (else $"+web.TokenEnv+")")
	setUsage(fs, func(w io.Writer) {
		fmt.Fprintln(w, "usage: defender-intake search [--data DIR] [--from T] [--to T] [--limit N] [--format table|ndjson] [--token-file FILE] 'QUERY'")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "QUERY uses the Events page language, e.g. 'host.name:ws1 AND process.name:cmd.exe'.")
	})
	// Flags may come after the query too.
	var positional []string
	rest := args
	for {
		if status, done := parseFlags(fs, rest, stdout); done {
			return status
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(positional) > 1 {
		fmt.Fprintln(stderr, "search: give the query as one argument (quote it)")
		return 2
	}
	if *format != "table" && *format != "ndjson" {
		fmt.Fprintf(stderr, "search: --format must be table or ndjson, not %q\n", *format)
		return 2
	}
	q := ""
	if len(positional) == 1 {
		q = positional[0]
	}
	now := time.Now()
	tFrom, _, err := query.ParseTime(*from, now)
	if err != nil {
		fmt.Fprintf(stderr, "search: --from: %v\n", err)
		return 2
	}
	tTo, _, err := query.ParseTime(*to, now)
	if err != nil {
		fmt.Fprintf(stderr, "search: --to: %v\n", err)
		return 2
	}
	if _, err := os.Stat(filepath.Join(*data, store.FileName)); err != nil {
		fmt.Fprintf(stderr, "search: no store in %s\n", *data)
		return 2
	}
	ctx := context.Background()
	sc := store.DefaultConfig()
	sc.Dir, sc.MaxAge = *data, 0
	var rd eventReader
	st, err := store.Open(ctx, sc, nil)
	switch {
	case err == nil:
		defer st.Close()
		sql, err := (&query.Compiler{Catalog: st.Catalog(), Now: func() time.Time { return now }}).Compile(q)
		if err != nil {
			printQueryError(stderr, q, err)
			return 2
		}
		rd = localReader{st: st, where: sql}
	case isLockError(err):
		// serve, demo or run holds the store: ask it, through the API
		// it records its address for.
		rec, rerr := readServerFile(*data)
		if rerr != nil {
			fmt.Fprintf(stderr, "search: the store in %s is open in %s, which records no API address for it (run without server.listen?): stop it, then search again\n", *data, lockHolder(*data, err))
			return 1
		}
		ar, aerr := newAPIReader(rec, q, *tokenFile)
		if aerr != nil {
			fmt.Fprintf(stderr, "search: %v\n", aerr)
			return 2
		}
		fmt.Fprintf(stderr, "search: the store is open in %s: searching through its API\n", lockHolder(*data, err))
		rd = ar
	default:
		fmt.Fprintf(stderr, "search: %v\n", err)
		return 1
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	if *format == "table" {
		fmt.Fprintln(tw, "@timestamp\tdataset\thost.name\tuser.name\tprocess.name\tprocess.command_line")
	}
	rangeSet := false
	fs.Visit(func(f *flag.Flag) { rangeSet = rangeSet || f.Name == "from" || f.Name == "to" })
	// The store's span is read only when the range is the default one or
	// nothing matched: it scans the whole store.
	var stats store.Stats
	if !rangeSet {
		if stats, err = rd.Stats(ctx); err != nil {
			return searchFailed(stderr, q, err)
		}
	}
	if !rangeSet && stats.Newest != nil && stats.Newest.Before(tFrom) {
		// An old export (the shipped sample, a backfill) has nothing in the
		// last 24 hours: search the 24 hours up to its newest event, as the
		// Events page opens on them, and say so.
		tTo = stats.Newest.Truncate(time.Second).Add(time.Second)
		tFrom = tTo.Add(-24 * time.Hour)
		fmt.Fprintf(stderr, "search: nothing in the last 24 hours; searching the 24 hours up to the newest event (%s to %s; --from and --to choose)\n",
			tFrom.Format(time.RFC3339), tTo.Format(time.RFC3339))
	}
	printed, cursor, total := 0, "", int64(0)
	for {
		n := 500
		if *limit > 0 {
			n = min(n, *limit-printed)
		}
		page, err := rd.Search(ctx, tFrom, tTo, n, cursor)
		if err != nil {
			return searchFailed(stderr, q, err)
		}
		total = page.Total
		for _, e := range page.Events {
			if *format == "ndjson" {
				full, err := rd.Get(ctx, e.ID)
				if err != nil {
					return searchFailed(stderr, q, err)
				}
				out.Write(full.Doc)
				out.WriteByte('\n')
			} else {
				var doc map[string]any
				_ = json.Unmarshal(e.Doc, &doc)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Timestamp.Format("2006-01-02T15:04:05.000Z"), e.Dataset,
					cell(doc, "host.name"), cell(doc, "user.name"), cell(doc, "process.name"), cell(doc, "process.command_line"))
			}
			printed++
		}
		cursor = page.Next
		if cursor == "" || (*limit > 0 && printed >= *limit) {
			break
		}
	}
	tw.Flush()
	fmt.Fprintf(stderr, "%d of %d matching events shown\n", printed, total)
	if total == 0 && rangeSet {
		if stats, err = rd.Stats(ctx); err != nil {
			return searchFailed(stderr, q, err)
		}
	}
	if total == 0 && stats.Oldest != nil && (stats.Oldest.Before(tFrom) || !stats.Newest.Before(tTo)) {
		// Say where the data is, as the page's empty state does.
		fmt.Fprintf(stderr, "the store holds %d events from %s to %s: --from %s covers them\n", stats.Events,
			stats.Oldest.Format(time.RFC3339), stats.Newest.Format(time.RFC3339), stats.Oldest.Truncate(time.Second).Format(time.RFC3339))
	}
	return 0
}

// printQueryError prints a query error with a caret under its position.
func printQueryError(stderr io.Writer, q string, err error) {
	fmt.Fprintf(stderr, "search: %v\n", err)
	if pos, ok := errorPos(err); ok {
		fmt.Fprintf(stderr, "  %s\n  %s^\n", q, strings.Repeat(" ", min(pos, len(q))))
	}
}

// searchFailed reports an error of the store or of the server's API:
// status 2 for a query the server refused, 1 otherwise.
func searchFailed(stderr io.Writer, q string, err error) int {
	if _, ok := err.(*apiQueryError); ok {
		printQueryError(stderr, q, err)
		return 2
	}
	fmt.Fprintf(stderr, "search: %v\n", err)
	return 1
}

func errorPos(err error) (int, bool) {
	switch e := err.(type) {
	case *apiQueryError:
		if e.Position == nil {
			return 0, false
		}
		return *e.Position, true
	case *query.SyntaxError:
		return e.Pos, true
	case *query.FieldError:
		return e.Pos, true
	}
	return 0, false
}

// cell renders a field for the table, on one line and at most 80 runes.
func cell(doc map[string]any, field string) string {
	var cur any = doc
	for _, p := range strings.Split(field, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[p]
	}
	var s string
	switch v := cur.(type) {
	case nil:
		return ""
	case string:
		s = v
	default:
		b, _ := json.Marshal(v)
		s = string(b)
	}
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 80 {
		s = string(r[:79]) + "…"
	}
	return s
}
