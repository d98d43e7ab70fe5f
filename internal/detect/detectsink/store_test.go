package detectsink

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/store"
	"github.com/defender-intake/defender-intake/internal/store/storesink"
)

// stored reads the alerts of the store in dir (not open elsewhere in
// the test), by title@host.
func stored(t *testing.T, dir string) map[string]alerts.Alert {
	t.Helper()
	st, err := storesink.AcquireDir(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer storesink.Release(st)
	page, err := st.Alerts(context.Background(), store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]alerts.Alert{}
	for _, a := range page.Alerts {
		out[a.Title+"@"+a.Host] = a
	}
	return out
}

// Without `file`, alerts live in the store only; the correlation windows
// are saved in the store's directory; after a restart a match updates its
// alert (reopened from the store) and completes a correlation.
func TestAlertsInTheStore(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules")
	writeRule(t, rules, "whoami.yml", whoamiRule)
	writeRule(t, rules, "netuse.yml", netUseRules)
	cfg := testConfig(dir, rules)
	cfg.File = ""
	s := openSink(t, cfg)
	write(t, s, docs(t, procRecord("ws1", "whoami", t0), procRecord("ws1", "net use x", t0), procRecord("ws2", "whoami", t0)))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got := stored(t, cfg.Store)
	if len(got) != 2 || got["Whoami@ws1"].Count != 1 || got["Whoami@ws2"].Count != 1 {
		t.Fatalf("alerts in the store: %v", got)
	}
	if _, err := os.Stat(filepath.Join(cfg.Store, "detection-detect.state.json")); err != nil {
		t.Fatalf("correlation windows not saved beside the store: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "alerts")); !os.IsNotExist(err) {
		t.Errorf("an alert file directory was made without `file`: %v", err)
	}
	s = openSink(t, cfg)
	write(t, s, docs(t, procRecord("ws1", "cmd /c whoami", t0.Add(time.Minute)), procRecord("ws1", "net use y", t0.Add(time.Minute)), procRecord("ws1", "net use z", t0.Add(2*time.Minute))))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got = stored(t, cfg.Store)
	if a := got["Whoami@ws1"]; a.Count != 2 || len(a.EventIDs) != 2 {
		t.Errorf("whoami on ws1 after the restart: %+v, want the same alert with count 2", a)
	}
	if a, ok := got["Net use three times@ws1"]; !ok || a.Level != "high" {
		t.Errorf("correlation across the restart did not fire: %v", keys(got))
	}
	if len(got) != 3 {
		t.Errorf("alerts after the restart: %v", keys(got))
	}
}

// A store sink and a detection sink on one directory in one process (as
// `run` has them) share the store: whichever closes first, the other
// still writes, and the events and alerts end in one database.
func TestSharesTheStoreSinksStore(t *testing.T) {
	for _, storeFirst := range []bool{true, false} {
		name := map[bool]string{true: "store sink closed first", false: "detection sink closed first"}[storeFirst]
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			rules := filepath.Join(dir, "rules")
			writeRule(t, rules, "whoami.yml", whoamiRule)
			cfg := testConfig(dir, rules)
			cfg.File = ""
			f, _ := sink.Lookup("store")
			sec := f.NewSection().(*storesink.Config)
			sec.Dir = cfg.Store
			events, err := f.OpenSink("events", sec, sink.Env{})
			if err != nil {
				t.Fatal(err)
			}
			det := openSink(t, cfg)
			if st, err := det.Store(ctx); err != nil || st != events.(*storesink.Sink).Store() {
				t.Fatalf("the detection sink has its own store (%v)", err)
			}
			batch := docs(t, procRecord("ws1", "whoami", t0), procRecord("ws1", "notepad", t0))
			if err := events.Write(ctx, batch); err != nil {
				t.Fatal(err)
			}
			first, second := sink.Sink(events), sink.Sink(det)
			if !storeFirst {
				first, second = det, events
			}
			write(t, det, batch)
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			more := docs(t, procRecord("ws1", "whoami /all", t0.Add(time.Minute)))
			if err := second.Write(ctx, more); err != nil {
				t.Fatalf("%s after the other closed: %v", second.Name(), err)
			}
			if err := second.Close(); err != nil {
				t.Fatal(err)
			}
			st, err := storesink.AcquireDir(ctx, cfg.Store, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer storesink.Release(st)
			page, err := st.Search(ctx, store.Filter{From: t0.Add(-time.Hour), To: t0.Add(time.Hour)}, 10, "")
			if err != nil {
				t.Fatal(err)
			}
			wantEvents := int64(2)
			if !storeFirst {
				wantEvents = 3
			}
			as, err := st.Alerts(ctx, store.AlertFilter{})
			if err != nil {
				t.Fatal(err)
			}
			wantCount := 1
			if storeFirst {
				wantCount = 2
			}
			if page.Total != wantEvents || as.Total != 1 || as.Alerts[0].Count != wantCount {
				t.Errorf("store holds %d events and alerts %+v; want %d events and one alert counting %d", page.Total, as.Alerts, wantEvents, wantCount)
			}
		})
	}
}

// An alert file of an earlier version (alerts in the file only) is
// imported into an empty store at the first start, and its open alerts
// keep being updated.
func TestAlertFileImported(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules")
	writeRule(t, rules, "whoami.yml", whoamiRule)
	cfg := testConfig(dir, rules)
	old := cfg
	old.Store = filepath.Join(dir, "old-store") // stands for the file-only version
	s := openSink(t, old)
	write(t, s, docs(t, procRecord("ws1", "whoami", t0), procRecord("ws2", "whoami", t0)))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openSink(t, cfg)
	write(t, s, docs(t, procRecord("ws1", "whoami", t0.Add(time.Minute))))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got := stored(t, cfg.Store)
	if len(got) != 2 || got["Whoami@ws1"].Count != 2 || got["Whoami@ws2"].Count != 1 {
		t.Errorf("alerts in the new store: %v", got)
	}
}
