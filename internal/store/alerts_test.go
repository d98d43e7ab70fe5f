package store

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
)

var alertT0 = time.Date(2026, 11, 20, 9, 0, 0, 123456789, time.UTC)

func testAlert(id, rule, title, level, host string, first time.Duration, count int) alerts.Alert {
	return alerts.Alert{
		ID: id, RuleID: rule, RuleTitle: title, Title: title, Level: level, Author: "Test Author",
		Tags: []string{"attack.discovery"}, Host: host, User: "jdoe",
		FirstSeen: alertT0.Add(first), LastSeen: alertT0.Add(first + time.Duration(count-1)*time.Minute),
		Count: count, EventIDs: []string{strings.Repeat("a", 32)},
	}
}

func openTestStore(t *testing.T, dir string, maxAge time.Duration) *Store {
	t.Helper()
	st, err := Open(context.Background(), Config{Dir: dir, MaxAge: maxAge}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func alertIDs(as []alerts.Alert) string {
	var ids []string
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	return strings.Join(ids, ",")
}

func TestAlertsQuery(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t, t.TempDir(), 0)
	defer st.Close()
	defender := testAlert("d", "builtin-defender", "Microsoft Defender XDR alert", "high", "", 3*time.Hour, 1)
	defender.Title, defender.Service, defender.GroupKey, defender.Host = "Suspicious PowerShell", "Microsoft Defender for Endpoint", "da555", ""
	defender.Tags, defender.EventIDs = nil, nil
	all := []alerts.Alert{
		testAlert("a", "rule-1", "Whoami discovery", "medium", "ws1", 0, 3),            // last seen 09:02
		testAlert("b", "rule-2", "Net user on a server", "high", "SRV1", time.Hour, 2), // 10:01
		testAlert("c", "rule-2", "Net user on a server", "high", "srv2", 2*time.Hour, 1),
		defender, // 12:00
	}
	if err := st.PutAlerts(ctx, all); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		f     AlertFilter
		want  string // ids, newest first
		total int
	}{
		{"all", AlertFilter{}, "d,c,b,a", 4},
		{"limit keeps the total", AlertFilter{Limit: 2}, "d,c", 4},
		{"rule id", AlertFilter{Rule: "rule-2"}, "c,b", 2},
		{"part of the rule title, any case", AlertFilter{Rule: "WHOAMI"}, "a", 1},
		{"part of Defender's alert title", AlertFilter{Rule: "powershell"}, "d", 1},
		{"one level", AlertFilter{Levels: []string{"medium"}}, "a", 1},
		{"levels, any case", AlertFilter{Levels: []string{"HIGH", "critical"}}, "d,c,b", 3},
		{"host, any case", AlertFilter{Host: "srv1"}, "b", 1},
		{"active in a range", AlertFilter{From: alertT0.Add(time.Hour), To: alertT0.Add(2*time.Hour + time.Second)}, "c,b", 2},
		{"open-ended range", AlertFilter{From: alertT0.Add(90 * time.Minute)}, "d,c", 2},
		{"everything combined", AlertFilter{Rule: "net user", Levels: []string{"high"}, Host: "SRV2", From: alertT0, Limit: 5}, "c", 1},
		{"no match", AlertFilter{Host: "nobody"}, "", 0},
		{"no match with a limit", AlertFilter{Host: "nobody", Limit: 10}, "", 0},
		{"SQL in a value is a value", AlertFilter{Rule: "x' OR 1=1; DROP TABLE alerts; --", Host: "' OR ''='", Levels: []string{"high') OR ('1'='1"}}, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page, err := st.Alerts(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := alertIDs(page.Alerts); got != tc.want || page.Total != tc.total {
				t.Errorf("got %q total %d, want %q total %d", got, page.Total, tc.want, tc.total)
			}
		})
	}
	// What comes back is what went in, to the nanosecond.
	page, err := st.Alerts(ctx, AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range page.Alerts {
		for _, w := range all {
			if w.ID == a.ID && !reflect.DeepEqual(a, w) {
				t.Errorf("alert %s read back as %+v, written %+v", a.ID, a, w)
			}
		}
	}
	if _, err := st.Alerts(ctx, AlertFilter{Limit: -1}); err == nil {
		t.Error("negative limit accepted")
	}
}

// PutAlerts replaces an alert's state; ImportAlerts never rolls one back.
func TestAlertsUpsert(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openTestStore(t, dir, 0)
	a := testAlert("a", "rule-1", "Whoami", "medium", "ws1", 0, 1)
	if err := st.PutAlerts(ctx, []alerts.Alert{a}); err != nil {
		t.Fatal(err)
	}
	newer := a
	newer.Count, newer.LastSeen = 5, a.LastSeen.Add(time.Hour)
	newer.EventIDs = []string{strings.Repeat("a", 32), strings.Repeat("b", 32)}
	older := a
	older.Count = 2
	steps := []struct {
		name   string
		put    func() error
		wantN  int
		wantID int // event ids
	}{
		{"update", func() error { return st.PutAlerts(ctx, []alerts.Alert{newer}) }, 5, 2},
		{"import of an older state is ignored", func() error { return st.ImportAlerts(ctx, []alerts.Alert{older}) }, 5, 2},
		{"put of an older state wins (detection is the authority)", func() error { return st.PutAlerts(ctx, []alerts.Alert{older}) }, 2, 1},
		{"import of a newer state", func() error { return st.ImportAlerts(ctx, []alerts.Alert{newer}) }, 5, 2},
	}
	for _, s := range steps {
		if err := s.put(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		page, err := st.Alerts(ctx, AlertFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != 1 || page.Alerts[0].Count != s.wantN || len(page.Alerts[0].EventIDs) != s.wantID {
			t.Fatalf("%s: %+v", s.name, page)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// Kept across a reopen.
	st = openTestStore(t, dir, 0)
	defer st.Close()
	page, err := st.Alerts(ctx, AlertFilter{})
	if err != nil || page.Total != 1 || !reflect.DeepEqual(page.Alerts[0], newer) {
		t.Fatalf("after reopening: %+v %v", page, err)
	}
}

// Once PutAlerts returns, the alerts are in the files on disk: a copy of
// the data directory taken while the store is still open (what a crash
// leaves) holds them.
func TestAlertsDurableOnReturn(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openTestStore(t, dir, 0)
	defer st.Close()
	want := []alerts.Alert{testAlert("a", "r", "Whoami", "medium", "ws1", 0, 2), testAlert("b", "r", "Whoami", "medium", "ws2", 0, 1)}
	if err := st.PutAlerts(ctx, want); err != nil {
		t.Fatal(err)
	}
	crashed := crashCopy(t, st)
	st2 := openTestStore(t, crashed, 0)
	defer st2.Close()
	page, err := st2.Alerts(ctx, AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if alertIDs(page.Alerts) != "a,b" {
		t.Fatalf("the copy holds %q, want a,b", alertIDs(page.Alerts))
	}
}

func TestRecentAndRetainAlerts(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t, t.TempDir(), 24*time.Hour)
	defer st.Close()
	as := []alerts.Alert{
		testAlert("old", "r", "T", "low", "h1", -72*time.Hour, 1),
		testAlert("mid", "r", "T", "low", "h2", -2*time.Hour, 1),
		testAlert("new", "r", "T", "low", "h3", 0, 1),
	}
	if err := st.PutAlerts(ctx, as); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		window time.Duration
		want   string // oldest first
	}{
		{time.Hour, "new"},
		{2 * time.Hour, "mid,new"},
		{1000 * time.Hour, "old,mid,new"},
	}
	for _, tc := range tests {
		got, err := st.RecentAlerts(ctx, tc.window)
		if err != nil {
			t.Fatal(err)
		}
		if alertIDs(got) != tc.want {
			t.Errorf("RecentAlerts(%s) = %q, want %q", tc.window, alertIDs(got), tc.want)
		}
	}
	// max_age 24h at 09:30 the day of "new": "old" (72h before) goes.
	n, err := st.RetainAlerts(ctx, alertT0.Add(30*time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("RetainAlerts deleted %d (%v), want 1", n, err)
	}
	page, err := st.Alerts(ctx, AlertFilter{})
	if err != nil || alertIDs(page.Alerts) != "new,mid" {
		t.Fatalf("after retention: %q %v", alertIDs(page.Alerts), err)
	}
}

// The typed columns say what the alert says (for analysts querying the
// table directly).
func TestAlertsColumns(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t, t.TempDir(), 0)
	defer st.Close()
	a := testAlert("a", "rule-1", "Whoami", "medium", "ws1", 0, 3)
	a.Tags, a.EventIDs, a.Service, a.GroupKey = []string{"attack.t1033", "attack.discovery"}, []string{strings.Repeat("b", 32), strings.Repeat("c", 32)}, "svc", "g1"
	empty := testAlert("e", "rule-2", "T", "low", "", 0, 1)
	empty.Tags, empty.EventIDs, empty.User, empty.Author = nil, nil, "", ""
	if err := st.PutAlerts(ctx, []alerts.Alert{a, empty}); err != nil {
		t.Fatal(err)
	}
	if err := st.Flush(ctx); err != nil { // the table itself is read below
		t.Fatal(err)
	}
	tests := []struct {
		id, want string
	}{
		{"a", "rule-1|Whoami|Whoami|medium|Test Author|attack.t1033|ws1|jdoe|svc|g1|2026-11-20 09:00:00.123456|2026-11-20 09:02:00.123456|3|2|" + strings.Repeat("c", 32)},
		{"e", "rule-2|T|T|low|||||||2026-11-20 09:00:00.123456|2026-11-20 09:00:00.123456|1|0|"},
	}
	for _, tc := range tests {
		var got string
		err := st.db.QueryRowContext(ctx, `SELECT concat_ws('|', rule_id, rule_title, title, level, author,
			coalesce(from_json(tags, '["VARCHAR"]')[1], ''), host, user_name, service, group_key,
			strftime(first_seen, '%Y-%m-%d %H:%M:%S.%f'), strftime(last_seen, '%Y-%m-%d %H:%M:%S.%f'), count,
			len(from_json(event_ids, '["VARCHAR"]')), coalesce(from_json(event_ids, '["VARCHAR"]')[2], ''))
			FROM alerts WHERE id = ?`, tc.id).Scan(&got)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("alert %s columns:\n got %s\nwant %s", tc.id, got, tc.want)
		}
	}
}
