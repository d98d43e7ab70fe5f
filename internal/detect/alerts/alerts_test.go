package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)

func TestGrouping(t *testing.T) {
	m := func(rule, host, user string, min int, id string) Match {
		return Match{RuleID: rule, RuleTitle: "title " + rule, Level: "high", Host: host, User: user, EventID: id, Time: t0.Add(time.Duration(min) * time.Minute)}
	}
	cases := []struct {
		name        string
		matches     []Match
		wantChanges []Change
		wantCounts  []int
		distinctIDs int
	}{
		{"same rule and entity within window is one alert",
			[]Match{m("r1", "h1", "u1", 0, "e1"), m("r1", "h1", "u1", 10, "e2"), m("r1", "h1", "u1", 59, "e3")},
			[]Change{Created, Updated, Updated}, []int{1, 2, 3}, 1},
		{"after the window a new alert opens",
			[]Match{m("r1", "h1", "u1", 0, "e1"), m("r1", "h1", "u1", 61, "e2")},
			[]Change{Created, Created}, []int{1, 1}, 2},
		{"other host is another alert",
			[]Match{m("r1", "h1", "u1", 0, "e1"), m("r1", "h2", "u1", 1, "e2")},
			[]Change{Created, Created}, []int{1, 1}, 2},
		{"other rule is another alert",
			[]Match{m("r1", "h1", "u1", 0, "e1"), m("r2", "h1", "u1", 1, "e2")},
			[]Change{Created, Created}, []int{1, 1}, 2},
		{"group key ignores entity",
			[]Match{{RuleID: "d", GroupKey: "da1", Host: "h1", Time: t0, EventID: "info"}, {RuleID: "d", GroupKey: "da1", Host: "h2", Time: t0.Add(3 * time.Hour), EventID: "evidence"}},
			[]Change{Created, Updated}, []int{1, 2}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewGrouper(Config{})
			ids := map[string]bool{}
			for i, mt := range c.matches {
				a, ch := g.Observe(mt)
				if ch != c.wantChanges[i] || a.Count != c.wantCounts[i] {
					t.Fatalf("match %d: %v count %d, want %v count %d", i, ch, a.Count, c.wantChanges[i], c.wantCounts[i])
				}
				ids[a.ID] = true
			}
			if len(ids) != c.distinctIDs {
				t.Fatalf("%d distinct alert ids, want %d", len(ids), c.distinctIDs)
			}
		})
	}
}

func TestGroupingKeepsEventIDsAndTimes(t *testing.T) {
	g := NewGrouper(Config{MaxEventIDs: 2})
	var a Alert
	for i, min := range []int{5, 1, 9} {
		a, _ = g.Observe(Match{RuleID: "r", Host: "h", EventID: fmt.Sprint("e", i), Time: t0.Add(time.Duration(min) * time.Minute)})
	}
	if a.Count != 3 || len(a.EventIDs) != 2 || a.EventIDs[0] != "e0" || a.EventIDs[1] != "e1" {
		t.Fatalf("count %d ids %v", a.Count, a.EventIDs)
	}
	if !a.FirstSeen.Equal(t0.Add(time.Minute)) || !a.LastSeen.Equal(t0.Add(9*time.Minute)) {
		t.Fatalf("first %v last %v", a.FirstSeen, a.LastSeen)
	}
}

// TestNoisyRuleBoundedMemory floods one rule over many entities: memory
// stays bounded by MaxOpen.
func TestNoisyRuleBoundedMemory(t *testing.T) {
	g := NewGrouper(Config{MaxOpen: 100})
	created := 0
	for i := 0; i < 10000; i++ {
		if _, ch := g.Observe(Match{RuleID: "noisy", Host: fmt.Sprint("h", i%500), Time: t0.Add(time.Duration(i) * time.Second)}); ch == Created {
			created++
		}
		if g.Open() > 100 {
			t.Fatalf("%d alerts open after %d matches, max 100", g.Open(), i+1)
		}
	}
	if created < 500 {
		t.Fatalf("only %d alerts created for 500 entities", created)
	}
}

func TestRestore(t *testing.T) {
	g := NewGrouper(Config{})
	a, _ := g.Observe(Match{RuleID: "r", Host: "h", Time: t0})
	g2 := NewGrouper(Config{})
	g2.Restore([]Alert{a})
	b, ch := g2.Observe(Match{RuleID: "r", Host: "h", Time: t0.Add(time.Minute)})
	if ch != Updated || b.ID != a.ID || b.Count != 2 {
		t.Fatalf("after restore: %v id %s count %d, want update of %s", ch, b.ID, b.Count, a.ID)
	}
}

func TestNormalizeLevel(t *testing.T) {
	for in, want := range map[string]string{"High": "high", "Informational": "informational", "UnknownFutureValue": "", "critical": "critical"} {
		if got := NormalizeLevel(in); got != want {
			t.Errorf("NormalizeLevel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWebhook(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	var auth []string
	fail := 1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if fail > 0 {
			fail--
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Errorf("body is not JSON: %s", b)
		}
		got = append(got, v)
		auth = append(auth, r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	t.Setenv("TEST_WEBHOOK_TOKEN", "s3cret")
	w, err := NewWebhook(WebhookConfig{URL: srv.URL, TokenEnv: "TEST_WEBHOOK_TOKEN"})
	if err != nil {
		t.Fatal(err)
	}
	w.backoff = time.Millisecond
	g := NewGrouper(Config{})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		a, ch := g.Observe(Match{RuleID: "r1", RuleTitle: "Suspicious thing", Author: "Jane", Level: "high", Host: "h", EventID: fmt.Sprint(i), Time: t0})
		if err := w.WriteAlert(ctx, a, ch); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("%d posts, want 1 (new alerts only)", len(got))
	}
	alert := got[0]["alert"].(map[string]any)
	if got[0]["change"] != "created" || alert["rule_id"] != "r1" || alert["author"] != "Jane" || alert["host"] != "h" {
		t.Fatalf("posted %v", got[0])
	}
	if auth[0] != "Bearer s3cret" {
		t.Fatalf("Authorization %q", auth[0])
	}
}

func TestWebhookGivesUp(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer srv.Close()
	w, err := NewWebhook(WebhookConfig{URL: srv.URL, Attempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	w.backoff = time.Millisecond
	if err := w.WriteAlert(context.Background(), Alert{ID: "x"}, Created); err == nil {
		t.Fatal("no error for a failing endpoint")
	}
	if calls != 2 {
		t.Fatalf("%d calls, want 2", calls)
	}
}

func TestWebhookConfig(t *testing.T) {
	for _, c := range []WebhookConfig{{URL: "ftp://x"}, {URL: ""}, {URL: "http://x", TokenEnv: "A", TokenFile: "b"}, {URL: "http://x", Attempts: -1}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if _, err := NewWebhook(WebhookConfig{URL: "http://127.0.0.1:1", TokenEnv: "SURELY_UNSET_VAR_X"}); err == nil {
		t.Error("empty token env accepted")
	}
}

func TestFileSink(t *testing.T) {
	path := t.TempDir() + "/alerts.ndjson"
	s, err := OpenFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	g := NewGrouper(Config{})
	for i := 0; i < 2; i++ {
		a, ch := g.Observe(Match{RuleID: "r", RuleTitle: "T", Author: "A", Host: "h", EventID: fmt.Sprint(i), Time: t0})
		if err := s.WriteAlert(context.Background(), a, ch); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	var last struct {
		Change string `json:"change"`
		Alert  Alert  `json:"alert"`
	}
	if err := json.Unmarshal([]byte(lines[1]), &last); err != nil || last.Change != "updated" || last.Alert.Count != 2 || last.Alert.Author != "A" {
		t.Fatalf("last line %s (%v)", lines[1], err)
	}
	if _, err := OpenFileSink(t.TempDir() + "/missing/dir/x"); err == nil {
		t.Fatal("no error for an unwritable path")
	}
}

// The alerts file stays NDJSON after a crash tore its last line, and after
// a write that failed half way: the torn part is cut at the next open, and
// the next line is never glued to it.
func TestFileSinkStaysNDJSON(t *testing.T) {
	path := t.TempDir() + "/alerts.ndjson"
	whole := `{"change":"created","alert":{"id":"x"}}` + "\n"
	if err := os.WriteFile(path, []byte(whole+`{"change":"upd`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g := NewGrouper(Config{})
	observe := func(i int) (Alert, Change) {
		return g.Observe(Match{RuleID: "r", RuleTitle: "T", Host: "h", EventID: fmt.Sprint(i), Time: t0})
	}
	if a, ch := observe(0); s.WriteAlert(context.Background(), a, ch) != nil {
		t.Fatal("first write failed")
	}
	s.f.Close() // the descriptor fails after part of a line reached the file
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"chan`)
	f.Close()
	a, ch := observe(1)
	if err := s.WriteAlert(context.Background(), a, ch); err == nil {
		t.Fatal("a write to a failed descriptor succeeded")
	}
	if err := s.WriteAlert(context.Background(), a, ch); err != nil {
		t.Fatalf("write after a failure: %v", err)
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 3 {
		t.Errorf("%d lines, want 3: %q", len(lines), b)
	}
	for i, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("line %d is not JSON: %q", i+1, l)
		}
	}
}
