package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/defender-intake/defender-intake/internal/query"
	"github.com/defender-intake/defender-intake/internal/store"
)

// defaultRange is the time range when from= is not given.
const defaultRange = 24 * time.Hour

// maxBuckets bounds buckets= on /api/histogram.
const maxBuckets = 1000

// filter reads q, from and to.
func (s *server) filter(r *http.Request) (store.Filter, error) {
	now := s.opts.Now()
	v := r.URL.Query()
	from, to := now.Add(-defaultRange), now
	if x := v.Get("from"); x != "" {
		t, _, err := query.ParseTime(x, now)
		if err != nil {
			return store.Filter{}, badRequest("from: %v (use RFC 3339 or now-15m)", err)
		}
		from = t
	}
	if x := v.Get("to"); x != "" {
		t, _, err := query.ParseTime(x, now)
		if err != nil {
			return store.Filter{}, badRequest("to: %v (use RFC 3339 or now)", err)
		}
		to = t
	}
	if !from.Before(to) {
		return store.Filter{}, badRequest("from (%s) must be before to (%s)", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	if err := store.CheckRange(from, to); err != nil {
		return store.Filter{}, rangeError(err)
	}
	c := &query.Compiler{Catalog: s.opts.Store.Catalog(), Now: s.opts.Now}
	sql, err := c.Compile(v.Get("q"))
	if err != nil {
		return store.Filter{}, queryError(err)
	}
	if x := v.Get("ids"); x != "" {
		if sql, err = withAlertEventIDs(sql, x); err != nil {
			return store.Filter{}, err
		}
	}
	return store.Filter{Where: sql, From: from, To: to}, nil
}

// maxAlertEventIDs bounds ids=: an alert keeps at most max_event_ids ids
// (100 by default), so a thousand is plenty and keeps the SQL small.
const maxAlertEventIDs = 1000

// withAlertEventIDs narrows sql to the events whose alert event id (see
// detectsink.EventID: the first 128 bits of the SHA-256 of the raw record,
// in hex) is one of the comma-separated ids. The store numbers events
// itself, so the alert's ids are matched by hashing the stored raw record:
// an exact match, computed only on the rows the time range selects.
func withAlertEventIDs(sql query.SQL, list string) (query.SQL, error) {
	ids := strings.Split(list, ",")
	if len(ids) > maxAlertEventIDs {
		return sql, badRequest("ids: at most %d event ids", maxAlertEventIDs)
	}
	var b strings.Builder
	b.WriteString("message IS NOT NULL AND substr(sha256(message), 1, 32) IN (")
	args := append([]any(nil), sql.Args...)
	for i, id := range ids {
		id = strings.ToLower(strings.TrimSpace(id))
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			return sql, badRequest("ids: %q is not an alert event id (32 hex digits)", id)
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("?")
		args = append(args, id)
	}
	b.WriteString(")")
	where := b.String()
	if sql.Where != "" {
		where = "(" + sql.Where + ") AND " + where
	}
	// The ids only narrow the query: the words it needs are still needed.
	return query.SQL{Where: where, Args: args, Words: sql.Words}, nil
}

// rangeError is a 400 for a time range the store does not answer.
func rangeError(err error) *apiError {
	msg := strings.TrimPrefix(err.Error(), "store: ")
	return &apiError{Status: http.StatusBadRequest, Msg: msg,
		Hint: "times from " + store.MinTime.Format(time.DateOnly) + " to " + store.MaxTime.Format(time.DateOnly) + " are searchable"}
}

func queryError(err error) error {
	var se *query.SyntaxError
	var fe *query.FieldError
	switch {
	case errors.As(err, &se):
		return &apiError{Status: http.StatusBadRequest, Msg: se.Error(), Position: &se.Pos, Hint: se.Hint}
	case errors.As(err, &fe):
		return &apiError{Status: http.StatusBadRequest, Msg: fe.Error(), Position: &fe.Pos, Hint: fe.Hint}
	}
	return badRequest("q: %v", err)
}

// intParam reads an integer parameter within [lo, hi], def when absent.
func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	x := r.URL.Query().Get(name)
	if x == "" {
		return def, nil
	}
	n, err := strconv.Atoi(x)
	if err != nil || n < lo || n > hi {
		return 0, badRequest("%s must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}

func (s *server) events(r *http.Request) (any, error) {
	f, err := s.filter(r)
	if err != nil {
		return nil, err
	}
	limit, err := intParam(r, "limit", 50, 1, s.opts.Config.MaxPageSize)
	if err != nil {
		return nil, err
	}
	// count=false skips the total: the page takes it from the histogram,
	// which reads every match anyway.
	count := r.URL.Query().Get("count") != "false"
	page, err := s.opts.Store.SearchPage(r.Context(), f, limit, r.URL.Query().Get("cursor"), count)
	if errors.Is(err, store.ErrBadCursor) {
		return nil, badRequest("cursor is not one this server returned")
	}
	if err != nil {
		return nil, err
	}
	out := map[string]any{"events": page.Events, "next": page.Next, "from": f.From, "to": f.To}
	if count {
		out["total"] = page.Total
	}
	return out, nil
}

func (s *server) event(r *http.Request) (any, error) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, badRequest("event id must be a positive integer")
	}
	e, err := s.opts.Store.Get(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &apiError{Status: http.StatusNotFound, Msg: "no event with id " + strconv.FormatUint(id, 10)}
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

func (s *server) histogram(r *http.Request) (any, error) {
	f, err := s.filter(r)
	if err != nil {
		return nil, err
	}
	n, err := intParam(r, "buckets", 60, 1, maxBuckets)
	if err != nil {
		return nil, err
	}
	h, err := s.opts.Store.HistogramOf(r.Context(), f, n)
	if err != nil {
		return nil, err
	}
	// interval_ms is nominal for calendar months and years; each bucket
	// has its own end.
	return map[string]any{"buckets": h.Buckets, "interval": h.Interval.String(), "interval_ms": h.Interval.Nominal().Milliseconds(), "from": f.From, "to": f.To}, nil
}

func (s *server) fields(r *http.Request) (any, error) {
	return map[string]any{"fields": s.opts.Store.Fields()}, nil
}

func (s *server) top(r *http.Request) (any, error) {
	field := r.PathValue("field")
	f, err := s.filter(r)
	if err != nil {
		return nil, err
	}
	n, err := intParam(r, "size", 10, 1, 100)
	if err != nil {
		return nil, err
	}
	top, err := s.opts.Store.TopValues(r.Context(), field, f, n)
	if errors.Is(err, store.ErrUnknownField) {
		return nil, &apiError{Status: http.StatusNotFound, Msg: "unknown field " + strconv.Quote(field), Hint: "GET /api/fields lists the fields"}
	}
	if err != nil {
		return nil, err
	}
	out := map[string]any{"field": field, "values": top.Values}
	if top.Sample > 0 {
		out["sample"] = top.Sample // counts are within the newest this many matches
	}
	return out, nil
}

func (s *server) stats(r *http.Request) (any, error) {
	st, err := s.opts.Store.Stats(r.Context())
	if err != nil {
		return nil, err
	}
	return map[string]any{"stats": st}, nil
}
