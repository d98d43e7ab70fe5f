package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/defender-intake/defender-intake/internal/store"
)

// MaxExport is the default and the largest limit= of /api/export: an
// export is a file for a person or a spreadsheet, not a backup.
const MaxExport = 100_000

// exportPage is how many events each store read of an export returns.
const exportPage = 1000

// ExportColumns are the CSV columns when fields= is not given.
var ExportColumns = []string{"@timestamp", "event.dataset", "event.action", "host.name", "user.name", "process.name", "process.command_line", "source.ip", "destination.ip"}

// ExportPattern is the route of the export.
const ExportPattern = "GET /api/export"

// exportRequest is a validated export: everything that can be refused
// with a 400 is checked before the first byte is written.
type exportRequest struct {
	filter store.Filter
	limit  int
	csv    bool
	fields []string
}

func (s *server) parseExport(r *http.Request) (exportRequest, error) {
	var x exportRequest
	f, err := s.filter(r)
	if err != nil {
		return x, err
	}
	x.filter = f
	if x.limit, err = intParam(r, "limit", MaxExport, 1, MaxExport); err != nil {
		return x, err
	}
	v := r.URL.Query()
	switch v.Get("format") {
	case "", "ndjson":
	case "csv":
		x.csv = true
	default:
		return x, badRequest("format must be ndjson or csv")
	}
	x.fields = ExportColumns
	if list := v.Get("fields"); list != "" {
		if !x.csv {
			return x, badRequest("fields applies to format=csv only")
		}
		x.fields = nil
		cat := s.opts.Store.Catalog()
		for _, name := range strings.Split(list, ",") {
			name = strings.TrimSpace(name)
			if _, ok := cat.Column(name); !ok {
				return x, &apiError{Status: http.StatusBadRequest, Msg: "fields: unknown field " + fmt.Sprintf("%q", name), Hint: "GET /api/fields lists the fields"}
			}
			x.fields = append(x.fields, name)
		}
		if len(x.fields) > 200 {
			return x, badRequest("fields: at most 200")
		}
	}
	return x, nil
}

// export streams the events of the current search, newest first, as
// NDJSON (the stored ECS documents, as /api/events returns them) or CSV.
// It reads through the store's paging (SearchPage with a cursor), one page
// per query slot and query timeout, so a long export neither holds a slot
// while a slow client reads nor escapes the bounds of /api/events. It
// stops at limit, at the end of the matches, or when the client leaves.
func (s *server) export(w http.ResponseWriter, r *http.Request) {
	fail := func(err error) {
		w.Header().Set("Content-Type", "application/json")
		var ae *apiError
		switch {
		case errors.As(err, &ae):
		case errors.Is(err, store.ErrRange):
			ae = rangeError(err)
		case errors.Is(err, context.DeadlineExceeded):
			ae = &apiError{Status: http.StatusGatewayTimeout, Msg: fmt.Sprintf("query took longer than %s: narrow the time range or the query", s.opts.Config.QueryTimeout)}
		case r.Context().Err() != nil:
			return
		default:
			s.log.Error("web: export failed", "err", err)
			ae = &apiError{Status: http.StatusInternalServerError, Msg: "internal error: " + err.Error()}
		}
		if ae.retryAfter {
			w.Header().Set("Retry-After", "1")
		}
		writeJSON(w, ae.Status, ae)
	}
	w.Header().Set("Cache-Control", "no-store")
	if s.opts.Token != "" && !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="defender-intake"`)
		fail(&apiError{Status: http.StatusUnauthorized, Msg: "missing or wrong bearer token"})
		return
	}
	x, err := s.parseExport(r)
	if err != nil {
		fail(err)
		return
	}
	// The first page is read before answering, so that a timeout or a
	// busy server is still a status code.
	page, err := s.exportPage(r, x.filter, min(exportPage, x.limit), "")
	if err != nil {
		fail(err)
		return
	}
	name := "events-" + s.opts.Now().UTC().Format("20060102T150405Z")
	if x.csv {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		name += ".csv"
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
		name += ".ndjson"
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	rc := http.NewResponseController(w)
	var out exportWriter = &ndjsonWriter{w: w}
	if x.csv {
		cw := &csvWriter{w: csv.NewWriter(w), fields: x.fields}
		cw.header()
		out = cw
	}
	sent := 0
	for {
		// A client that stops reading cannot hold the export forever.
		_ = rc.SetWriteDeadline(time.Now().Add(s.opts.Config.QueryTimeout))
		for _, e := range page.Events {
			if err := out.event(e); err != nil {
				return // the client is gone
			}
		}
		sent += len(page.Events)
		if err := out.flush(); err != nil {
			return
		}
		_ = rc.Flush()
		if page.Next == "" || sent >= x.limit {
			return
		}
		if page, err = s.exportPage(r, x.filter, min(exportPage, x.limit-sent), page.Next); err != nil {
			if r.Context().Err() == nil {
				// Headers are sent: the truncated file is all we can say.
				s.log.Warn("web: export stopped early", "sent", sent, "err", err)
			}
			return
		}
	}
}

// exportPage reads one page under a query slot and the query timeout.
func (s *server) exportPage(r *http.Request, f store.Filter, n int, cursor string) (store.Page, error) {
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Config.QueryTimeout)
	defer cancel()
	var page store.Page
	_, err := s.limited(func(r *http.Request) (any, error) {
		var err error
		page, err = s.opts.Store.SearchPage(r.Context(), f, n, cursor, false)
		return nil, err
	})(r.WithContext(ctx))
	if err != nil && ctx.Err() != nil && r.Context().Err() == nil {
		return page, fmt.Errorf("export: %w", context.DeadlineExceeded)
	}
	return page, err
}

type exportWriter interface {
	event(store.Event) error
	flush() error
}

// ndjsonWriter writes each document compacted, as encoding/json writes
// the json.RawMessage of /api/events: the same bytes.
type ndjsonWriter struct {
	w   http.ResponseWriter
	buf bytes.Buffer
}

func (n *ndjsonWriter) event(e store.Event) error {
	n.buf.Reset()
	if err := json.Compact(&n.buf, e.Doc); err != nil {
		return fmt.Errorf("export: event %d: %w", e.ID, err)
	}
	n.buf.WriteByte('\n')
	_, err := n.w.Write(n.buf.Bytes())
	return err
}

func (n *ndjsonWriter) flush() error { return nil }

type csvWriter struct {
	w      *csv.Writer
	fields []string
	parser fastjson.Parser
	row    []string
}

func (c *csvWriter) header() {
	row := make([]string, len(c.fields))
	for i, f := range c.fields {
		row[i] = neutralizeFormula(f)
	}
	_ = c.w.Write(row)
}

func (c *csvWriter) event(e store.Event) error {
	doc, err := c.parser.ParseBytes(e.Doc)
	if err != nil {
		return fmt.Errorf("export: event %d: %w", e.ID, err)
	}
	c.row = c.row[:0]
	for _, f := range c.fields {
		c.row = append(c.row, neutralizeFormula(cellValue(doc, f)))
	}
	return c.w.Write(c.row)
}

func (c *csvWriter) flush() error {
	c.w.Flush()
	return c.w.Error()
}

// cellValue renders field f of doc: nested objects first, then a
// flattened "a.b" key (both document shapes are stored). Strings are
// their text; numbers, booleans, arrays and objects their JSON.
func cellValue(doc *fastjson.Value, f string) string {
	v := doc.Get(strings.Split(f, ".")...)
	if v == nil {
		v = doc.Get(f)
	}
	if v == nil || v.Type() == fastjson.TypeNull {
		return ""
	}
	if v.Type() == fastjson.TypeString {
		return string(v.GetStringBytes())
	}
	return v.String()
}

// neutralizeFormula keeps a spreadsheet from running a cell as a formula:
// a cell starting with = + - @ (or a tab or carriage return, which some
// spreadsheets skip before one) gets a leading apostrophe.
func neutralizeFormula(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
