package store

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
)

// crashCopy copies st's data directory while st stays open and no alert
// load runs: what a crash at that moment leaves on disk.
func crashCopy(t *testing.T, st *Store) string {
	t.Helper()
	st.alog.loadMu.Lock()
	defer st.alog.loadMu.Unlock()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(st.cfg.Dir)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// alertSegments lists the alert log segments in a data directory.
func alertSegments(t *testing.T, dir string) []int {
	t.Helper()
	seqs, err := segments(filepath.Join(dir, alertLogDir))
	if err != nil {
		t.Fatal(err)
	}
	return seqs
}

// openLogged opens the store in dir with its log lines in buf.
func openLogged(t *testing.T, dir string, buf *bytes.Buffer) *Store {
	t.Helper()
	st, err := Open(context.Background(), Config{Dir: dir}, slog.New(slog.NewTextHandler(buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Alert states logged but not loaded into DuckDB when the process dies
// are in the alerts table once the store is opened again, each alert in
// its last state; a torn record at the end of the log (a PutAlerts that
// never returned) is ignored.
func TestAlertLogRecoversAfterCrash(t *testing.T) {
	a1 := testAlert("a", "r", "Whoami", "medium", "ws1", 0, 1)
	a2 := testAlert("a", "r", "Whoami", "medium", "ws1", 0, 2)
	a2.EventIDs = append(a2.EventIDs, strings.Repeat("b", 32))
	b := testAlert("b", "r", "Whoami", "medium", "ws2", time.Minute, 1)
	updates := make([][]alerts.Alert, 50)
	for i := range updates {
		updates[i] = []alerts.Alert{testAlert("n", "r", "Noisy", "low", "ws3", 0, i+1)}
	}
	tests := []struct {
		name    string
		loaded  [][]alerts.Alert // put, then loaded into DuckDB
		logged  [][]alerts.Alert // put after, only in the log at the crash
		torn    bool             // half a record appended to the last segment
		want    []alerts.Alert   // newest (last seen) first, then by id
		wantLog string           // in the recovery log line
	}{
		{name: "logged only", logged: [][]alerts.Alert{{a1, b}}, want: []alerts.Alert{b, a1}, wantLog: "alerts=2 states=2"},
		{name: "loaded, then updated", loaded: [][]alerts.Alert{{a1}}, logged: [][]alerts.Alert{{a2}, {b}}, want: []alerts.Alert{a2, b}, wantLog: "alerts=2 states=2"},
		{name: "torn tail", logged: [][]alerts.Alert{{a1}, {b}}, torn: true, want: []alerts.Alert{b, a1}, wantLog: "alerts=2 states=2"},
		{name: "one alert updated 50 times", logged: updates, want: updates[49], wantLog: "alerts=1 states=50"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := openTestStore(t, t.TempDir(), 0)
			defer st.Close()
			for _, batch := range tc.loaded {
				if err := st.PutAlerts(ctx, batch); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			for _, batch := range tc.logged {
				if err := st.PutAlerts(ctx, batch); err != nil {
					t.Fatal(err)
				}
			}
			crashed := crashCopy(t, st)
			if tc.torn {
				seqs := alertSegments(t, crashed)
				f, err := os.OpenFile(segmentName(filepath.Join(crashed, alertLogDir), seqs[len(seqs)-1]), os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				torn := appendLogRecord(nil, logRecord{id: 99, doc: []byte(`{"id":"torn"}`)})
				f.Write(torn[:len(torn)-3])
				f.Close()
			}
			var logBuf bytes.Buffer
			st2 := openLogged(t, crashed, &logBuf)
			page, err := st2.Alerts(ctx, AlertFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(page.Alerts, tc.want) {
				t.Errorf("recovered alerts:\n got %+v\nwant %+v", page.Alerts, tc.want)
			}
			if n := len(alertSegments(t, crashed)); n != 1 {
				t.Errorf("%d alert log segments after recovery, want the new one only", n)
			}
			if err := st2.Close(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(logBuf.String(), tc.wantLog) {
				t.Errorf("recovery logged %q, want %q in it", logBuf.String(), tc.wantLog)
			}
			if n := len(alertSegments(t, crashed)); n != 0 {
				t.Errorf("%d alert log segments after Close, want none", n)
			}
			// Not reopened here: a Close right after Open cancels the word
			// indexer's first query, and DuckDB then never opens the file
			// again in this process (an open issue of indexer.go).
		})
	}
}

// Many states of one alert between loads are one pending row, loaded as
// its last state; the loaded segments are deleted.
func TestAlertStatesCoalesced(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openTestStore(t, dir, 0)
	defer st.Close()
	var last alerts.Alert
	st.alog.loadMu.Lock() // no load while the states are logged
	for i := range 200 {
		last = testAlert("a", "r", "Noisy", "low", "ws1", 0, i+1)
		last.EventIDs = []string{fmt.Sprintf("%032d", i)}
		other := testAlert(fmt.Sprintf("other-%d", i%3), "r", "Noisy", "low", "ws2", 0, 1)
		if err := st.PutAlerts(ctx, []alerts.Alert{last, other}); err != nil {
			st.alog.loadMu.Unlock()
			t.Fatal(err)
		}
	}
	st.alog.mu.Lock()
	pending := len(st.alog.pending)
	st.alog.mu.Unlock()
	var records int
	if _, err := replay(filepath.Join(dir, alertLogDir), func(logRecord) error { records++; return nil }); err != nil {
		t.Fatal(err)
	}
	st.alog.loadMu.Unlock()
	if pending != 4 || records != 400 {
		t.Errorf("%d pending rows for %d logged states, want 4 for 400", pending, records)
	}
	page, err := st.Alerts(ctx, AlertFilter{Rule: "r", Host: "ws1"})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 1 || !reflect.DeepEqual(page.Alerts[0], last) {
		t.Errorf("stored %+v, want one alert in its last state %+v", page.Alerts, last)
	}
	if seqs := alertSegments(t, dir); len(seqs) != 1 {
		t.Errorf("alert log segments after the load: %v, want the current one only", seqs)
	}
}

// A load that fails keeps the states pending and logged: a crash then
// still recovers them, and the next load writes them, unless a newer state
// of the alert was logged meanwhile.
func TestAlertLoadFailureKeepsStates(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t, t.TempDir(), 0)
	defer st.Close()
	a1 := testAlert("a", "r", "T", "low", "ws1", 0, 1)
	a2 := testAlert("a", "r", "T", "low", "ws1", 0, 2)
	b := testAlert("b", "r", "T", "low", "ws2", 0, 1)
	if err := st.PutAlerts(ctx, []alerts.Alert{a1, b}); err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := st.loadAlerts(canceled); err == nil {
		t.Fatal("a load with a canceled context succeeded")
	}
	if err := st.PutAlerts(ctx, []alerts.Alert{a2}); err != nil {
		t.Fatal(err)
	}
	crashed := crashCopy(t, st)
	for name, s := range map[string]*Store{"store": st, "crash copy": openTestStore(t, crashed, 0)} {
		page, err := s.Alerts(ctx, AlertFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if want := []alerts.Alert{a2, b}; !reflect.DeepEqual(page.Alerts, want) {
			t.Errorf("%s holds %+v, want %+v", name, page.Alerts, want)
		}
		if s != st {
			s.Close()
		}
	}
}

// Retention deletes old alerts whether or not they were loaded yet.
func TestRetainAlertsPending(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t, t.TempDir(), 24*time.Hour)
	defer st.Close()
	st.alog.loadMu.Lock()
	err := st.PutAlerts(ctx, []alerts.Alert{testAlert("old", "r", "T", "low", "h1", -72*time.Hour, 1), testAlert("new", "r", "T", "low", "h2", 0, 1)})
	st.alog.mu.Lock()
	pending := len(st.alog.pending)
	st.alog.mu.Unlock()
	st.alog.loadMu.Unlock()
	if err != nil || pending != 2 {
		t.Fatalf("PutAlerts: %v, %d pending", err, pending)
	}
	n, err := st.RetainAlerts(ctx, alertT0.Add(30*time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("RetainAlerts deleted %d (%v), want 1", n, err)
	}
	page, err := st.Alerts(ctx, AlertFilter{})
	if err != nil || alertIDs(page.Alerts) != "new" {
		t.Fatalf("after retention: %q %v", alertIDs(page.Alerts), err)
	}
}

func TestPutAlertsAfterClose(t *testing.T) {
	st := openTestStore(t, t.TempDir(), 0)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.PutAlerts(context.Background(), []alerts.Alert{testAlert("a", "r", "T", "low", "h", 0, 1)}); err == nil {
		t.Fatal("PutAlerts after Close succeeded")
	}
}

// Past maxPendingAlerts alerts waiting for the loader, PutAlerts loads
// them before logging more: memory stays bounded when DuckDB is slower
// than detection.
func TestAlertBacklogBounded(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t, t.TempDir(), 0)
	defer st.Close()
	pending := func() int {
		st.alog.mu.Lock()
		defer st.alog.mu.Unlock()
		return len(st.alog.pending)
	}
	backlog := make([]alerts.Alert, maxPendingAlerts)
	for i := range backlog {
		backlog[i] = testAlert(fmt.Sprintf("a%d", i), "r", "T", "low", "h", 0, 1)
	}
	if err := st.PutAlerts(ctx, backlog); err != nil {
		t.Fatal(err)
	}
	if err := st.PutAlerts(ctx, []alerts.Alert{testAlert("last", "r", "T", "low", "h", time.Hour, 1)}); err != nil {
		t.Fatal(err)
	}
	if n := pending(); n != 1 {
		t.Errorf("%d alerts pending after a put over a backlog of %d, want the new one only", n, maxPendingAlerts)
	}
	page, err := st.Alerts(ctx, AlertFilter{Limit: 1})
	if err != nil || page.Total != maxPendingAlerts+1 {
		t.Errorf("stored %d alerts (%v), want %d", page.Total, err, maxPendingAlerts+1)
	}
}
