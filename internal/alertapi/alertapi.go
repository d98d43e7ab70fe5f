// Package alertapi serves the alerts detection keeps in the store, for
// the service's HTTP server: GET /api/alerts.
package alertapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
	"github.com/defender-intake/defender-intake/internal/store"
)

// Response is the body of GET /api/alerts.
type Response struct {
	// Alerts are the matching alerts, newest (last seen) first, at most
	// limit of them.
	Alerts []alerts.Alert `json:"alerts"`
	// Total is how many alerts matched the filters before the limit.
	Total int `json:"total"`
}

// Reader is where alerts are read from (*store.Store).
//
// Contract: Alerts returns the current state of the alerts f selects,
// newest (last seen) first then by id, at most f.Limit of them (all with
// 0), and in Total how many matched. It is safe for concurrent use.
type Reader interface {
	Alerts(ctx context.Context, f store.AlertFilter) (store.AlertPage, error)
}

const (
	defaultLimit = 100
	maxLimit     = 1000
)

// Handler answers GET /api/alerts from the stores' alerts tables (several
// when detection sinks keep alerts in several stores), with the current
// state of each alert. Query parameters, all optional and combined with
// AND:
//
//	rule   rule id, or a case-insensitive part of the rule or alert title
//	level  informational, low, medium, high, critical (repeatable: any of)
//	host   case-insensitive host name, exact
//	from   RFC 3339 time: alerts last seen at or after it
//	to     RFC 3339 time: alerts first seen before it
//	limit  at most this many alerts (default 100, max 1000)
//
// Errors are answered in plain text.
func Handler(log *slog.Logger, stores ...Reader) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := parseFilter(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp := Response{Alerts: []alerts.Alert{}}
		for _, st := range stores {
			page, err := st.Alerts(r.Context(), f)
			if err != nil {
				if r.Context().Err() != nil {
					return // client went away
				}
				log.Error("GET /api/alerts: reading the store", "err", err)
				http.Error(w, "alerts unreadable (see the service log)", http.StatusInternalServerError)
				return
			}
			resp.Alerts = append(resp.Alerts, page.Alerts...)
			resp.Total += page.Total
		}
		if len(stores) > 1 {
			slices.SortStableFunc(resp.Alerts, func(a, b alerts.Alert) int {
				if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
					return c
				}
				return strings.Compare(a.ID, b.ID)
			})
			resp.Alerts = resp.Alerts[:min(f.Limit, len(resp.Alerts))]
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp)
	})
}

type badRequest string

func (e badRequest) Error() string { return string(e) }

func parseFilter(r *http.Request) (store.AlertFilter, error) {
	q := r.URL.Query()
	f := store.AlertFilter{Rule: q.Get("rule"), Host: q.Get("host"), Levels: q["level"], Limit: defaultLimit}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return f, badRequest("limit: a number from 1 to 1000")
		}
		f.Limit = n
	}
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if s := q.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return f, badRequest(p.name + ": an RFC 3339 time, e.g. 2026-11-20T09:00:00Z")
			}
			*p.t = t
		}
	}
	return f, nil
}
