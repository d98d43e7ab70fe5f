package alertapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
	"github.com/defender-intake/defender-intake/internal/store"
)

func putAlerts(t *testing.T, as ...alerts.Alert) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.PutAlerts(context.Background(), as); err != nil {
		t.Fatal(err)
	}
	return st
}

func alert(id, rule, ruleTitle, title, level, host, first, last string, count int) alerts.Alert {
	f, _ := time.Parse(time.RFC3339, first)
	l, _ := time.Parse(time.RFC3339, last)
	return alerts.Alert{ID: id, RuleID: rule, RuleTitle: ruleTitle, Title: title, Level: level, Host: host, FirstSeen: f, LastSeen: l, Count: count}
}

// Two stores (two detection sinks on two data directories), read through
// the handler: filters, merge newest first, totals, bad parameters.
func TestHandler(t *testing.T) {
	a := putAlerts(t,
		alert("1", "r-whoami", "Whoami", "Whoami", "medium", "ws1", "2026-11-20T08:00:00Z", "2026-11-20T10:00:00Z", 4),
		alert("2", "r-net", "Net user", "Net user", "high", "srv1", "2026-11-20T09:05:00Z", "2026-11-20T09:05:00Z", 1),
	)
	b := putAlerts(t, alert("3", "r-def", "Microsoft Defender XDR alert", "Ransomware", "critical", "WS1", "2026-11-20T09:30:00Z", "2026-11-20T09:30:00Z", 1))
	h := Handler(slog.New(slog.DiscardHandler), a, b)

	tests := []struct {
		query string
		code  int
		want  string // ids, newest first
		total int
	}{
		{"", 200, "1,3,2", 3},
		{"?level=medium", 200, "1", 1},
		{"?level=HIGH&level=critical", 200, "3,2", 2},
		{"?host=ws1", 200, "1,3", 2},
		{"?rule=r-net", 200, "2", 1},
		{"?rule=defender", 200, "3", 1},
		{"?rule=ransom", 200, "3", 1},
		{"?host=ws1&level=critical", 200, "3", 1},
		{"?limit=2", 200, "1,3", 3},
		{"?from=2026-11-20T09:10:00Z", 200, "1,3", 2},
		{"?to=2026-11-20T09:00:00Z", 200, "1", 1},
		{"?from=2026-11-20T09:00:00Z&to=2026-11-20T09:10:00Z", 200, "1,2", 2},
		{"?host=nobody", 200, "", 0},
		{"?rule=%27%20OR%201%3D1%20--", 200, "", 0},
		{"?limit=0", 400, "", 0},
		{"?limit=1001", 400, "", 0},
		{"?limit=x", 400, "", 0},
		{"?from=yesterday", 400, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/alerts"+tc.query, nil))
			if rec.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.code, rec.Body)
			}
			if tc.code != 200 {
				return
			}
			var r Response
			if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			if r.Alerts == nil {
				t.Fatal(`"alerts" is null, want a list`)
			}
			var ids []string
			for _, a := range r.Alerts {
				ids = append(ids, a.ID)
			}
			if strings.Join(ids, ",") != tc.want || r.Total != tc.total {
				t.Errorf("ids %v total %d, want %s total %d", ids, r.Total, tc.want, tc.total)
			}
			if tc.query == "" && r.Alerts[0].Count != 4 {
				t.Errorf("alert 1 count %d, want 4", r.Alerts[0].Count)
			}
		})
	}
}
