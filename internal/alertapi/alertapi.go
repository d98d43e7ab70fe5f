// Package alertapi serves the alerts the detection sink wrote, for the
// service's HTTP server: GET /api/alerts.
package alertapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
	"github.com/defender-intake/defender-intake/internal/detect/detectsink"
)

// Response is the body of GET /api/alerts.
type Response struct {
	// Alerts are the matching alerts, newest (last seen) first, at most
	// limit of them.
	Alerts []alerts.Alert `json:"alerts"`
	// Total is how many alerts matched the filters before the limit.
	Total int `json:"total"`
}

const (
	defaultLimit = 100
	maxLimit     = 1000
)

// Handler answers GET /api/alerts from the alert files (several when
// several detection sinks are configured), with the current state of each
// alert. Query parameters, all optional and combined with AND:
//
//	rule   rule id, or a case-insensitive part of the rule title
//	level  informational, low, medium, high, critical (repeatable: any of)
//	host   case-insensitive host name, exact
//	limit  at most this many alerts (default 100, max 1000)
//
// The files are read on each request: alerts are few next to events.
func Handler(files []string, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit := defaultLimit
		if s := q.Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > maxLimit {
				http.Error(w, "limit: a number from 1 to 1000", http.StatusBadRequest)
				return
			}
			limit = n
		}
		var all []alerts.Alert
		for _, f := range files {
			as, err := detectsink.ReadAlerts(f, time.Time{})
			if err != nil {
				log.Error("GET /api/alerts: reading alert file", "file", f, "err", err)
				http.Error(w, "alert file unreadable (see the service log)", http.StatusInternalServerError)
				return
			}
			all = append(all, as...)
		}
		rule, host, levels := q.Get("rule"), q.Get("host"), q["level"]
		all = slices.DeleteFunc(all, func(a alerts.Alert) bool {
			return !matchRule(a, rule) || (host != "" && !strings.EqualFold(a.Host, host)) ||
				(len(levels) > 0 && !slices.ContainsFunc(levels, func(l string) bool { return strings.EqualFold(l, a.Level) }))
		})
		slices.SortStableFunc(all, func(a, b alerts.Alert) int {
			if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		resp := Response{Alerts: all[:min(limit, len(all))], Total: len(all)}
		if resp.Alerts == nil {
			resp.Alerts = []alerts.Alert{}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp)
	})
}

func matchRule(a alerts.Alert, rule string) bool {
	if rule == "" || a.RuleID == rule {
		return true
	}
	return strings.Contains(strings.ToLower(a.RuleTitle), strings.ToLower(rule))
}
