package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/detectsink"
	"github.com/defender-intake/defender-intake/internal/store"
)

// sampleEvents returns the sample store's events in the day of the sample
// data, newest first, with their raw records.
func sampleEvents(t *testing.T, st *store.Store) []store.Event {
	t.Helper()
	from, _ := time.Parse(time.RFC3339, sampleFrom)
	to, _ := time.Parse(time.RFC3339, sampleTo)
	page, err := st.Search(context.Background(), store.Filter{From: from, To: to}, 500, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) < 4 {
		t.Fatalf("sample data has %d events: too few for these tests", len(page.Events))
	}
	out := make([]store.Event, 0, len(page.Events))
	for _, e := range page.Events {
		full, err := st.Get(context.Background(), e.ID)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, full)
	}
	return out
}

const sampleFrom, sampleTo = "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z"

// TestEventsByAlertEventIDs checks that ids= selects exactly the events
// whose detection-sink event id (hash of the raw record) is listed.
func TestEventsByAlertEventIDs(t *testing.T) {
	st := sampleStore(t)
	srv := httptest.NewServer(New(Options{Store: st}))
	defer srv.Close()
	evs := sampleEvents(t, st)
	id := func(e store.Event) string { return detectsink.EventID([]byte(e.Message)) }
	var hosted []store.Event
	for _, e := range evs {
		if hostOf(t, e) != "" {
			hosted = append(hosted, e)
		}
	}
	if len(hosted) < 3 {
		t.Fatalf("%d sample events with a host name: too few", len(hosted))
	}
	some := []store.Event{hosted[0], hosted[1], hosted[len(hosted)-1]}
	var someIDs []string
	for _, e := range some {
		someIDs = append(someIDs, id(e))
	}
	tests := []struct {
		name    string
		ids     string
		q       string
		want    []uint64 // store ids, newest first; nil with status 400
		status  int
		errPart string
	}{
		{name: "one", ids: id(evs[1]), want: []uint64{evs[1].ID}, status: 200},
		{name: "three", ids: strings.Join(someIDs, ","), want: []uint64{some[0].ID, some[1].ID, some[2].ID}, status: 200},
		{name: "upper case and spaces", ids: " " + strings.ToUpper(id(evs[0])) + " ", want: []uint64{evs[0].ID}, status: 200},
		{name: "with a query that excludes one", ids: strings.Join(someIDs, ","), q: `-host.name:"` + hostOf(t, some[0]) + `"`, want: idsNotOnHost(t, some, hostOf(t, some[0])), status: 200},
		{name: "unknown id", ids: strings.Repeat("0", 32), want: []uint64{}, status: 200},
		{name: "not hex", ids: strings.Repeat("g", 32), status: 400, errPart: "not an alert event id"},
		{name: "too short", ids: "abc", status: 400, errPart: "not an alert event id"},
		{name: "too many", ids: strings.Repeat(strings.Repeat("0", 32)+",", maxAlertEventIDs) + strings.Repeat("0", 32), status: 400, errPart: "at most"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := url.Values{"ids": {tc.ids}, "from": {sampleFrom}, "to": {sampleTo}, "q": {tc.q}, "limit": {"500"}}
			status, body := getJSON(t, srv, "/api/events?"+v.Encode(), "")
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, body)
			}
			if tc.status != 200 {
				if msg, _ := body["error"].(string); !strings.Contains(msg, tc.errPart) {
					t.Fatalf("error %q, want it to contain %q", msg, tc.errPart)
				}
				return
			}
			var got []uint64
			for _, e := range body["events"].([]any) {
				got = append(got, uint64(e.(map[string]any)["id"].(float64)))
			}
			if len(got) != len(tc.want) || int(body["total"].(float64)) != len(tc.want) {
				t.Fatalf("got ids %v (total %v), want %v", got, body["total"], tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got ids %v, want %v", got, tc.want)
				}
			}
			// The histogram counts the same selection.
			_, h := getJSON(t, srv, "/api/histogram?"+v.Encode(), "")
			n := 0
			for _, b := range h["buckets"].([]any) {
				n += int(b.(map[string]any)["count"].(float64))
			}
			if n != len(tc.want) {
				t.Fatalf("histogram counts %d, want %d", n, len(tc.want))
			}
		})
	}
}

func hostOf(t *testing.T, e store.Event) string {
	t.Helper()
	var d struct {
		Host struct {
			Name string `json:"name"`
		} `json:"host"`
	}
	if err := json.Unmarshal(e.Doc, &d); err != nil {
		t.Fatalf("event %d: %v", e.ID, err)
	}
	return d.Host.Name
}

func idsNotOnHost(t *testing.T, evs []store.Event, host string) []uint64 {
	out := []uint64{}
	for _, e := range evs {
		if !strings.EqualFold(hostOf(t, e), host) {
			out = append(out, e.ID)
		}
	}
	return out
}

// TestAlertsRoute checks that Options.Alerts is served behind the API token
// and that without it /api/alerts is an unknown endpoint (what the Alerts
// view reports as "no alerts on this server").
func TestAlertsRoute(t *testing.T) {
	st := loadedStore(t, 10)
	alertsAPI := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"alerts":[],"total":0}`))
	})
	tests := []struct {
		name   string
		alerts http.Handler
		token  string
		send   string
		status int
	}{
		{name: "no token needed", alerts: alertsAPI, status: 200},
		{name: "token given", alerts: alertsAPI, token: "s3cret", send: "s3cret", status: 200},
		{name: "token missing", alerts: alertsAPI, token: "s3cret", status: 401},
		{name: "wrong token", alerts: alertsAPI, token: "s3cret", send: "nope", status: 401},
		{name: "no alert files", status: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(New(Options{Store: st, Token: tc.token, Alerts: tc.alerts}))
			defer srv.Close()
			status, body := getJSON(t, srv, "/api/alerts?level=high", tc.send)
			if status != tc.status {
				t.Fatalf("status %d, want %d (%v)", status, tc.status, body)
			}
			if _, ok := body["alerts"]; ok != (tc.status == 200) {
				t.Fatalf("body %v", body)
			}
		})
	}
}
