package detectsink

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
	"github.com/defender-intake/defender-intake/internal/sink"
)

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func TestMatchesWriteAlerts(t *testing.T) {
	type want struct {
		level string
		count int
	}
	tests := []struct {
		name    string
		records []string
		want    map[string]want // title@host
	}{
		{"one match", []string{procRecord("ws1", "whoami /all", t0)},
			map[string]want{"Whoami@ws1": {"medium", 1}}},
		{"same host grouped, other host apart", []string{
			procRecord("ws1", "whoami", t0), procRecord("ws1", "WHOAMI /priv", t0.Add(time.Minute)), procRecord("ws2", "whoami", t0)},
			map[string]want{"Whoami@ws1": {"medium", 2}, "Whoami@ws2": {"medium", 1}}},
		{"ECS field rule", []string{procRecord("srv9", "net user admin /add", t0), procRecord("ws1", "net user admin /add", t0)},
			map[string]want{"Net user on a server@srv9": {"high", 1}}},
		{"no match, other table", []string{procRecord("ws1", "notepad.exe", t0), emailRecord(t0)},
			map[string]want{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rules := filepath.Join(dir, "rules")
			writeRule(t, rules, "whoami.yml", whoamiRule)
			writeRule(t, rules, "ecs.yml", ecsRule)
			cfg := testConfig(dir, rules)
			s := openSink(t, cfg)
			write(t, s, docs(t, tc.records...))
			// Acknowledged: the alerts are in the file before Close.
			got := current(t, cfg.File)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Errorf("alerts %v, want %v", keys(got), tc.want)
			}
			for k, w := range tc.want {
				a, ok := got[k]
				if !ok {
					t.Errorf("no alert %s (have %v)", k, keys(got))
					continue
				}
				if a.Level != w.level || a.Count != w.count || len(a.EventIDs) != w.count || a.Author != "Test Author" {
					t.Errorf("%s: level %q count %d ids %d author %q, want %s %d", k, a.Level, a.Count, len(a.EventIDs), a.Author, w.level, w.count)
				}
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// The event ids in alerts are the content hash of the raw record.
func TestEventIDIsRecordHash(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules")
	writeRule(t, rules, "whoami.yml", whoamiRule)
	cfg := testConfig(dir, rules)
	s := openSink(t, cfg)
	defer s.Close()
	rec := procRecord("ws1", "whoami", t0)
	write(t, s, docs(t, rec))
	a := current(t, cfg.File)["Whoami@ws1"]
	if len(a.EventIDs) != 1 || a.EventIDs[0] != EventID([]byte(rec)) || len(a.EventIDs[0]) != 32 {
		t.Errorf("event ids %v, want [%s]", a.EventIDs, EventID([]byte(rec)))
	}
}

// Documents detection cannot read never fail the batch: the other sinks
// must get them.
func TestBadDocumentsDoNotFailTheBatch(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules")
	writeRule(t, rules, "whoami.yml", whoamiRule)
	cfg := testConfig(dir, rules)
	s := openSink(t, cfg)
	defer s.Close()
	batch := []sink.Doc{
		{JSON: []byte(`{"event":{"dataset":"store.invalid_document"}}`), Dataset: "x"},
		{JSON: []byte(`not json`)},
		{JSON: []byte(`{"message":"[1,2]","event":{"dataset":"unknown"}}`), Dataset: "unknown"},
	}
	batch = append(batch, docs(t, procRecord("ws1", "whoami", t0))...)
	write(t, s, batch)
	if a := current(t, cfg.File)["Whoami@ws1"]; a.Count != 1 {
		t.Errorf("alert count %d, want 1 (the good document)", a.Count)
	}
}

// A producer that does not pass the raw record (Doc.Raw nil) gets the same
// alerts, the record being read from the document's message.
func TestRawRecordFromMessage(t *testing.T) {
	results := map[bool]alerts.Alert{}
	for _, withRaw := range []bool{true, false} {
		dir := t.TempDir()
		rules := filepath.Join(dir, "rules")
		writeRule(t, rules, "whoami.yml", whoamiRule)
		cfg := testConfig(dir, rules)
		s := openSink(t, cfg)
		batch := docs(t, procRecord("ws1", "whoami", t0), procRecord("ws1", "whoami /all", t0.Add(time.Minute)))
		if !withRaw {
			for i := range batch {
				batch[i].Raw = nil
			}
		}
		write(t, s, batch)
		s.Close()
		results[withRaw] = current(t, cfg.File)["Whoami@ws1"]
	}
	a, b := results[true], results[false]
	if a.Count != 2 || b.Count != 2 || !slices.Equal(a.EventIDs, b.EventIDs) {
		t.Errorf("with the raw record: %d alerts %v; from the message: %d alerts %v", a.Count, a.EventIDs, b.Count, b.EventIDs)
	}
}

func TestReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules")
	writeRule(t, rules, "whoami.yml", whoamiRule)
	cfg := testConfig(dir, rules)
	s := openSink(t, cfg)
	defer s.Close()
	netUser := procRecord("srv1", "net user x /add", t0)
	write(t, s, docs(t, netUser))
	if got := current(t, cfg.File); len(got) != 0 {
		t.Fatalf("alerts before the rule exists: %v", keys(got))
	}
	writeRule(t, rules, "ecs.yml", ecsRule)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		write(t, s, docs(t, netUser))
		if _, ok := current(t, cfg.File)["Net user on a server@srv1"]; ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("SIGHUP did not load the new rule")
		}
	}
}

// A reload that fails keeps the rules in force.
func TestFailedReloadKeepsRules(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules")
	writeRule(t, rules, "whoami.yml", whoamiRule)
	cfg := testConfig(dir, rules)
	s := openSink(t, cfg)
	defer s.Close()
	if err := os.RemoveAll(rules); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil {
		t.Fatal("reload of a missing rule directory succeeded")
	}
	write(t, s, docs(t, procRecord("ws1", "whoami", t0)))
	if a := current(t, cfg.File)["Whoami@ws1"]; a.Count != 1 {
		t.Errorf("after a failed reload: alert count %d, want 1 (old rules kept)", a.Count)
	}
}

// A restart keeps alerts open (a match after it updates the same alert)
// and correlation windows (a sequence spanning it still fires).
func TestRestartKeepsAlertsAndCorrelations(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules")
	writeRule(t, rules, "whoami.yml", whoamiRule)
	writeRule(t, rules, "netuse.yml", netUseRules)
	cfg := testConfig(dir, rules)
	s := openSink(t, cfg)
	write(t, s, docs(t, procRecord("ws1", "whoami", t0), procRecord("ws1", "net use x", t0), procRecord("ws1", "net use y", t0.Add(time.Minute))))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cfg.File + ".state.json"); err != nil {
		t.Fatalf("no state file: %v", err)
	}
	s = openSink(t, cfg)
	defer s.Close()
	write(t, s, docs(t, procRecord("ws1", "whoami", t0.Add(2*time.Minute)), procRecord("ws1", "net use z", t0.Add(2*time.Minute))))
	got := current(t, cfg.File)
	if a := got["Whoami@ws1"]; a.Count != 2 {
		t.Errorf("whoami alert after restart: count %d, want 2 (same alert updated)", a.Count)
	}
	if a, ok := got["Net use three times@ws1"]; !ok || a.Level != "high" {
		t.Errorf("correlation across the restart did not fire: %v", keys(got))
	}
}

// When the alert file cannot be written, Write fails (the batch is not
// acknowledged), and the pipeline's retry of the same batch does not
// count its matches twice.
func TestFailedAlertWriteRetriedOnce(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules")
	writeRule(t, rules, "whoami.yml", whoamiRule)
	cfg := testConfig(dir, rules)
	s := openSink(t, cfg)
	defer s.Close()
	s.file.f.Close()
	broken, err := os.Open(cfg.File) // read-only: writes fail
	if err != nil {
		t.Fatal(err)
	}
	s.file.f = broken
	// After a failed write the file is opened again: a directory in its
	// place keeps that failing too.
	aside := cfg.File + ".aside"
	if err := os.Rename(cfg.File, aside); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(cfg.File, 0o700); err != nil {
		t.Fatal(err)
	}
	batch := docs(t, procRecord("ws1", "whoami", t0), procRecord("ws1", "whoami /priv", t0))
	if err := s.Write(context.Background(), batch); err == nil {
		t.Fatal("Write acknowledged a batch whose alerts were not written")
	}
	if err := s.Write(context.Background(), batch); err == nil {
		t.Fatal("second Write acknowledged while the file is still failing")
	}
	os.Remove(cfg.File)
	if err := os.Rename(aside, cfg.File); err != nil {
		t.Fatal(err)
	}
	write(t, s, batch)
	if a := current(t, cfg.File)["Whoami@ws1"]; a.Count != 2 {
		t.Errorf("count %d after the retry, want 2", a.Count)
	}
}

// state_file in a directory of its own: made at Close, read at start.
func TestStateFileElsewhere(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules")
	writeRule(t, rules, "netuse.yml", netUseRules)
	cfg := testConfig(dir, rules)
	cfg.StateFile = filepath.Join(dir, "state", "detect.json")
	s := openSink(t, cfg)
	write(t, s, docs(t, procRecord("ws1", "net use a", t0), procRecord("ws1", "net use b", t0)))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cfg.StateFile); err != nil {
		t.Fatalf("state_file not written: %v", err)
	}
	s = openSink(t, cfg)
	defer s.Close()
	write(t, s, docs(t, procRecord("ws1", "net use c", t0.Add(time.Minute))))
	if _, ok := current(t, cfg.File)["Net use three times@ws1"]; !ok {
		t.Error("correlation did not fire across the restart")
	}
}

// Tables no rule reads are not evaluated, except DeviceInfo (it tells
// the field mapping Linux from macOS devices).
func TestSkipsTablesWithoutRules(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules")
	writeRule(t, rules, "whoami.yml", whoamiRule)
	cfg := testConfig(dir, rules)
	s := openSink(t, cfg)
	defer s.Close()
	deviceInfo := `{"time":"2026-11-20T09:00:00Z","category":"AdvancedHunting-DeviceInfo","properties":{"Timestamp":"2026-11-20T09:00:00Z","DeviceName":"mac1","DeviceId":"d1","OSPlatform":"macOS"}}`
	write(t, s, docs(t, emailRecord(t0), emailRecord(t0), deviceInfo, procRecord("ws1", "whoami", t0)))
	for result, want := range map[string]float64{"skipped": 2, "evaluated": 2, "error": 0} {
		if got := testutil.ToFloat64(s.m.docs.WithLabelValues(result)); got != want {
			t.Errorf("%s: %v documents, want %v", result, got, want)
		}
	}
}

// The webhook of the section is wired: a new alert is posted, with the
// bearer token from the environment, and Close delivers what is queued.
func TestWebhook(t *testing.T) {
	type post struct {
		auth string
		body map[string]any
	}
	got := make(chan post, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		got <- post{r.Header.Get("Authorization"), body}
	}))
	defer srv.Close()
	t.Setenv("DETECT_TEST_TOKEN", "s3cret")
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules")
	writeRule(t, rules, "whoami.yml", whoamiRule)
	cfg := testConfig(dir, rules)
	cfg.Webhook = &alerts.WebhookConfig{URL: srv.URL, TokenEnv: "DETECT_TEST_TOKEN", Timeout: 5 * time.Second, Attempts: 1}
	s := openSink(t, cfg)
	write(t, s, docs(t, procRecord("ws1", "whoami", t0), procRecord("ws1", "whoami", t0)))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		a, _ := p.body["alert"].(map[string]any)
		if p.auth != "Bearer s3cret" || p.body["change"] != "created" || a["title"] != "Whoami" {
			t.Errorf("posted %q %v", p.auth, p.body)
		}
	default:
		t.Fatal("nothing posted to the webhook by Close")
	}
	if len(got) != 0 {
		t.Errorf("%d more posts; updates are not posted unless updates: true", len(got))
	}
}

// A noisy rule writes a line per batch; compaction keeps the file to the
// current states, and counts stay exact across it and a restart.
func TestAlertFileCompaction(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules")
	writeRule(t, rules, "whoami.yml", whoamiRule)
	cfg := testConfig(dir, rules)
	s := openSink(t, cfg)
	s.file.limit = 4 << 10 // bytes, instead of compact_mb
	const batches = 200
	for i := range batches {
		at := t0.Add(time.Duration(i) * time.Second)
		write(t, s, docs(t, procRecord("ws1", "whoami", at), procRecord(fmt.Sprintf("h%d", i%3), "whoami", at)))
	}
	st, err := os.Stat(cfg.File)
	if err != nil {
		t.Fatal(err)
	}
	// Without compaction: 200 lines of ws1's alert alone (each with up to
	// 100 event ids of 34 bytes): hundreds of KB.
	if st.Size() > 3*s.file.limit {
		t.Errorf("alert file is %d bytes after compactions, limit %d", st.Size(), s.file.limit)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openSink(t, cfg)
	defer s.Close()
	write(t, s, docs(t, procRecord("ws1", "whoami", t0.Add(batches*time.Second))))
	got := current(t, cfg.File)
	want := map[string]int{"Whoami@ws1": batches + 1, "Whoami@h0": 67, "Whoami@h1": 67, "Whoami@h2": 66}
	for k, n := range want {
		if got[k].Count != n {
			t.Errorf("%s: count %d, want %d", k, got[k].Count, n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("alerts %v", keys(got))
	}
}
