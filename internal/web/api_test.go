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

	"github.com/defender-intake/defender-intake/internal/store"
	"github.com/defender-intake/defender-intake/internal/store/storetest"
)

var (
	t0  = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	now = t0.Add(7 * 24 * time.Hour)
)

// loadedStore opens a real store in a temporary directory with n generated
// events spread over the 7 days before now.
func loadedStore(t testing.TB, n int) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g := storetest.New(11, t0, 7*24*time.Hour)
	var batch []store.Doc
	for i := 0; i < n; i++ {
		b, _ := g.Next()
		batch = append(batch, store.Doc{JSON: b})
		if len(batch) == 1000 || i == n-1 {
			if err := st.Write(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := st.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

func newServer(t testing.TB, st *store.Store, token string) *httptest.Server {
	h := New(Options{Store: st, Token: token, Now: func() time.Time { return now }})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func getJSON(t *testing.T, srv *httptest.Server, path, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: content type %q", path, ct)
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return resp.StatusCode, m
}

func TestAPI(t *testing.T) {
	st := loadedStore(t, 3000)
	srv := newServer(t, st, "")
	week := "&from=now-7d&to=now"
	tests := []struct {
		name   string
		path   string
		status int
		check  func(t *testing.T, m map[string]any)
	}{
		{"all events", "/api/events?limit=10" + week, 200, func(t *testing.T, m map[string]any) {
			if m["total"].(float64) != 3000 || len(m["events"].([]any)) != 10 || m["next"] == "" {
				t.Errorf("total %v, %d events, next %q", m["total"], len(m["events"].([]any)), m["next"])
			}
		}},
		{"query", "/api/events?q=" + url.QueryEscape("process.name:cmd.exe AND user.name:alice") + week, 200, func(t *testing.T, m map[string]any) {
			for _, e := range m["events"].([]any) {
				doc := e.(map[string]any)["doc"].(map[string]any)
				if doc["process"].(map[string]any)["name"] != "cmd.exe" || doc["user"].(map[string]any)["name"] != "alice" {
					t.Errorf("event does not match: %v", doc)
				}
			}
			if m["total"].(float64) == 0 {
				t.Error("no match")
			}
		}},
		{"without total", "/api/events?count=false&limit=5" + week, 200, func(t *testing.T, m map[string]any) {
			if _, ok := m["total"]; ok || len(m["events"].([]any)) != 5 {
				t.Errorf("count=false: %v", m)
			}
		}},
		{"default range is last 24h", "/api/events", 200, func(t *testing.T, m map[string]any) {
			tot := m["total"].(float64)
			if tot <= 0 || tot >= 3000 {
				t.Errorf("total %v for the last day of a week", tot)
			}
		}},
		{"syntax error", "/api/events?q=" + url.QueryEscape("host.name:(a"), 400, func(t *testing.T, m map[string]any) {
			if m["position"] == nil || !strings.Contains(m["error"].(string), "position") {
				t.Errorf("error without position: %v", m)
			}
		}},
		{"unknown field", "/api/events?q=hostname:x", 400, func(t *testing.T, m map[string]any) {
			if !strings.Contains(m["hint"].(string), "host.name") {
				t.Errorf("hint: %v", m)
			}
		}},
		{"bad limit", "/api/events?limit=100000", 400, nil},
		{"bad from", "/api/events?from=yesterday", 400, nil},
		{"from after to", "/api/events?from=now&to=now-1h", 400, nil},
		{"bad cursor", "/api/events?cursor=zzz", 400, nil},
		{"one event", "/api/events/5", 200, func(t *testing.T, m map[string]any) {
			if m["id"].(float64) != 5 || m["message"] == "" || m["doc"].(map[string]any)["message"] == nil {
				t.Errorf("event: %v", m)
			}
		}},
		{"missing event", "/api/events/999999", 404, nil},
		{"bad event id", "/api/events/abc", 400, nil},
		{"histogram", "/api/histogram?buckets=7" + week, 200, func(t *testing.T, m map[string]any) {
			var sum float64
			for _, b := range m["buckets"].([]any) {
				sum += b.(map[string]any)["count"].(float64)
			}
			if sum != 3000 || m["interval_ms"].(float64) != 86400000 {
				t.Errorf("sum %v, interval %v", sum, m["interval_ms"])
			}
		}},
		{"fields", "/api/fields", 200, func(t *testing.T, m map[string]any) {
			names := map[string]bool{}
			for _, f := range m["fields"].([]any) {
				names[f.(map[string]any)["name"].(string)] = true
			}
			for _, want := range []string{"host.name", "process.pid", "@timestamp", "microsoft.defender.report.id"} {
				if !names[want] {
					t.Errorf("field %s missing", want)
				}
			}
		}},
		{"top", "/api/fields/user.name/top?size=3" + week, 200, func(t *testing.T, m map[string]any) {
			vals := m["values"].([]any)
			if len(vals) != 3 || vals[0].(map[string]any)["count"].(float64) < vals[2].(map[string]any)["count"].(float64) {
				t.Errorf("top: %v", vals)
			}
		}},
		{"top unknown field", "/api/fields/nope/top", 404, nil},
		{"stats", "/api/stats", 200, func(t *testing.T, m map[string]any) {
			s := m["stats"].(map[string]any)
			if s["events"].(float64) != 3000 || s["bytes"].(float64) <= 0 || len(s["per_dataset"].(map[string]any)) != 6 {
				t.Errorf("stats: %v", s)
			}
		}},
		{"unknown endpoint", "/api/nope", 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, m := getJSON(t, srv, tt.path, "")
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, m)
			}
			if tt.status != 200 && (m["error"] == nil || m["error"] == "") {
				t.Errorf("error response without a message: %v", m)
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func TestToken(t *testing.T) {
	st := loadedStore(t, 10)
	srv := newServer(t, st, "s3cret")
	tests := []struct {
		token  string
		status int
	}{{"", 401}, {"wrong", 401}, {"s3cret", 200}}
	for _, tt := range tests {
		status, _ := getJSON(t, srv, "/api/stats", tt.token)
		if status != tt.status {
			t.Errorf("token %q: status %d, want %d", tt.token, status, tt.status)
		}
	}
	// the page itself holds no data and loads without the token
	resp, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("page: %d", resp.StatusCode)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		listen, token string
		ok            bool
	}{
		{"127.0.0.1:8080", "", true},
		{"localhost:8080", "", true},
		{"[::1]:8080", "", true},
		{"0.0.0.0:8080", "", false},
		{":8080", "", false},
		{"0.0.0.0:8080", "tok", true},
	}
	for _, tt := range tests {
		c := DefaultConfig()
		c.Listen = tt.listen
		err := c.Validate(tt.token)
		if (err == nil) != tt.ok {
			t.Errorf("%s token=%q: %v", tt.listen, tt.token, err)
		}
		// Config comes from flags: the message names them, not a config key.
		if err != nil && (!strings.Contains(err.Error(), "--token-file") || strings.Contains(err.Error(), "token_file")) {
			t.Errorf("%s: %v", tt.listen, err)
		}
	}
}

func TestPaging(t *testing.T) {
	st := loadedStore(t, 250)
	srv := newServer(t, st, "")
	seen := map[float64]bool{}
	path := "/api/events?limit=100&from=now-7d"
	for i := 0; ; i++ {
		_, m := getJSON(t, srv, path, "")
		for _, e := range m["events"].([]any) {
			seen[e.(map[string]any)["id"].(float64)] = true
		}
		next, _ := m["next"].(string)
		if next == "" {
			break
		}
		if i > 5 {
			t.Fatal("paging does not end")
		}
		path = "/api/events?limit=100&from=now-7d&cursor=" + url.QueryEscape(next)
	}
	if len(seen) != 250 {
		t.Errorf("paged %d distinct events, want 250", len(seen))
	}
}
