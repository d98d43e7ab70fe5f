package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/defender-intake/defender-intake/internal/alertapi"
	"github.com/defender-intake/defender-intake/internal/detect/alerts"
	"github.com/defender-intake/defender-intake/internal/detect/detectsink"
	"github.com/defender-intake/defender-intake/internal/normalize"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/store"
	"github.com/defender-intake/defender-intake/internal/store/storesink"
	"github.com/defender-intake/defender-intake/internal/testenv"
)

const whoamiRuleYAML = `title: Whoami discovery
id: 7c1f0e52-0000-4000-8000-000000000001
author: Test Author
tags: [attack.discovery, attack.t1033]
logsource: {product: windows, category: process_creation}
detection:
  sel: {CommandLine|contains: whoami}
  condition: sel
level: medium
`

const netUserRuleYAML = `title: Net user on a server
id: 7c1f0e52-0000-4000-8000-000000000002
author: Other Author
tags: [attack.discovery, attack.t1087.002]
logsource: {product: microsoft_defender_xdr}
detection:
  sel:
    process.command_line|contains: 'net user'
    host.name|startswith: srv
  condition: sel
level: high
`

// procRecord is a raw DeviceProcessEvents record.
func procRecord(host, cmdline string, t time.Time) []byte {
	ts := t.UTC().Format(time.RFC3339Nano)
	return fmt.Appendf(nil, `{"time":%q,"tenantId":"t1","operationName":"Publish","category":"AdvancedHunting-DeviceProcessEvents","properties":{"Timestamp":%q,"DeviceName":%q,"ActionType":"ProcessCreated","FolderPath":"C:\\Windows\\System32\\cmd.exe","FileName":"cmd.exe","ProcessCommandLine":%q,"AccountDomain":"corp","AccountName":"jdoe","InitiatingProcessFileName":"explorer.exe"}}`, ts, ts, host, cmdline)
}

// alertFixture normalizes records with the real normalizer and hands the
// same documents to a real store and a real detection sink sharing it, as
// `run` does with a store sink and a detection sink on one directory. It
// returns the store and the alerts in it. Alerts keep at most maxIDs
// event ids.
func alertFixture(t *testing.T, maxIDs int) (*store.Store, []alerts.Alert) {
	t.Helper()
	base := time.Date(2026, 11, 20, 10, 0, 0, 123456700, time.UTC)
	var recs [][]byte
	for i := range 4 {
		recs = append(recs, procRecord("ws1", "cmd /c whoami /all", base.Add(time.Duration(i)*5*time.Minute)))
		recs = append(recs, procRecord("ws1", "cmd /c dir", base.Add(time.Duration(i)*5*time.Minute+30*time.Second)))
	}
	for i := range 3 {
		recs = append(recs, procRecord("srv1", "net user admin /domain", base.Add(20*time.Minute+time.Duration(i)*time.Minute)))
	}
	for i := range 2 {
		recs = append(recs, procRecord("srv2", "net user backup", base.Add(time.Hour+time.Duration(i)*time.Minute)))
	}
	n := normalize.New(normalize.Options{})
	var sdocs []sink.Doc
	var stdocs []store.Doc
	for _, r := range recs {
		doc, meta, err := n.Append(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		sdocs = append(sdocs, sink.Doc{JSON: doc, Dataset: meta.Dataset, Timestamp: meta.Timestamp})
		stdocs = append(stdocs, store.Doc{JSON: doc, Timestamp: meta.Timestamp})
	}
	ctx := context.Background()
	data := t.TempDir()
	st, err := storesink.AcquireDir(ctx, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { storesink.Release(st) })
	if err := st.Write(ctx, stdocs); err != nil {
		t.Fatal(err)
	}
	if err := st.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	ruleDir := filepath.Join(dir, "rules")
	if err := os.MkdirAll(ruleDir, 0o750); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"whoami.yml": whoamiRuleYAML, "netuser.yml": netUserRuleYAML} {
		if err := os.WriteFile(filepath.Join(ruleDir, name), []byte(body), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	cfg := *detectsink.DefaultConfig()
	cfg.Rules.Dirs = []string{ruleDir}
	cfg.Rules.NoBuiltin = true
	cfg.Alerts.MaxEventIDs = maxIDs
	cfg.Store = data
	ds, err := detectsink.Open("detect", cfg, sink.Env{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Write(ctx, sdocs); err != nil {
		t.Fatal(err)
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	// Closing the detection sink leaves the store open for the page.
	page, err := st.Alerts(ctx, store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return st, page.Alerts
}

// newChromium starts headless Chromium for one test.
func newChromium(t *testing.T) context.Context {
	t.Helper()
	chromium := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := execLookPath(name); err == nil {
			chromium = p
			break
		}
	}
	if chromium == "" {
		chromium = testenv.LookPath(t, "chromium", "apt-get install chromium, or run .ci/setup.d/30-chromium.sh")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:0:0],
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 800),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestAlertsViewInChromium(t *testing.T) {
	ctx := newChromium(t)
	st, as := alertFixture(t, 100)
	byKey := map[string]alerts.Alert{}
	high := 0
	for _, a := range as {
		byKey[a.Level+"@"+a.Host] = a
		if a.Level == "high" {
			high++
		}
	}
	whoami, ok := byKey["medium@ws1"]
	if len(as) != 3 || high != 2 || !ok || whoami.Count != 4 || len(whoami.EventIDs) != 4 {
		t.Fatalf("the detection sink wrote %d alerts (%d high; whoami on ws1: %+v): the fixture is not what this test expects", len(as), high, whoami)
	}
	srv := httptest.NewServer(New(Options{Store: st, Alerts: alertapi.Handler(slog.New(slog.DiscardHandler), st)}))
	defer srv.Close()

	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	poll := func(step, js string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			failShot(ctx, t)
			t.Fatalf("%s: %v (waited for %s)", step, err, js)
		}
	}
	rows := `document.querySelectorAll("#alerts tbody tr").length`

	// The list, newest (last seen) first: the net user alert on srv2.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/?view=alerts")); err != nil {
		t.Fatal(err)
	}
	poll("alerts listed", rows+` === 3`)
	first, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => { const r = document.querySelector("#alerts tbody tr"); return [r.querySelector(".atitle .t").textContent, r.querySelector(".lvl").textContent, getComputedStyle(r.querySelector(".lvl")).backgroundColor, r.querySelector(".atitle .sub").textContent, r.cells[3].textContent, r.cells[7].textContent, r.cells[2].textContent]; })()`))
	if err != nil {
		t.Fatal(err)
	}
	newest := byKey["high@srv2"]
	want := []string{"Net user on a server", "high", "rgb(255, 224, 204)", newest.RuleID + " · by Other Author", "srv2", "2", "discoveryT1087.002"}
	if strings.Join(first, "|") != strings.Join(want, "|") {
		t.Errorf("first alert row shows %q, want %q", first, want)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	saveShot(t, "alerts-view.png", shot)

	// Filter by level: the URL keeps it and the back button undoes it.
	if err := chromedp.Do(ctx, chromedp.SetValue(css(`#a-level`), "high"), chromedp.Click(css(`#a-apply`))); err != nil {
		t.Fatal(err)
	}
	poll("level filter", rows+` === `+strconv.Itoa(high)+` && [...document.querySelectorAll("#alerts tbody tr")].every((r) => r.dataset.level === "high") && new URLSearchParams(location.search).get("level") === "high"`)
	if err := chromedp.Do(ctx, chromedp.NavigateBack()); err != nil {
		t.Fatal(err)
	}
	poll("back to all levels", rows+` === 3 && document.querySelector("#a-level").value === ""`)

	// Open the matching events: exactly the alert's events, in the Events view.
	if err := chromedp.Do(ctx, chromedp.Click(css(`#alerts tbody tr[data-id="`+whoami.ID+`"] .open-events`))); err != nil {
		t.Fatal(err)
	}
	poll("events of the alert", `!document.querySelector("#events-view").hidden && document.querySelector("#loading").hidden && document.querySelector("#count").textContent.startsWith("4 ")`)
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#q").value + " " + new URLSearchParams(location.search).get("ids")`)); err != nil || v != `host.name:"ws1" `+strings.Join(whoami.EventIDs, ",") {
		t.Errorf("query and ids of the events view: %q (%v)", v, err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#results tbody tr")].map((r) => r.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != whoami.Count {
		t.Errorf("events view shows %d rows for the alert, want %d", len(got), whoami.Count)
	}
	for _, r := range got {
		if !strings.Contains(r, "ws1") || !strings.Contains(r, "whoami") {
			t.Errorf("a row that is not one of the alert's events: %q", r)
		}
	}
	scope, err := chromedp.Run(ctx, chromedp.Text(css(`#alert-scope-text`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(scope, "Whoami discovery") || !strings.Contains(scope, "the 4 events it recorded") {
		t.Errorf("alert banner says %q", scope)
	}
	shot, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	saveShot(t, "alerts-events.png", shot)
	if err := chromedp.Do(ctx, chromedp.NavigateBack()); err != nil {
		t.Fatal(err)
	}
	poll("back to the alerts", `!document.querySelector("#alerts-view").hidden && `+rows+` === 3`)

	// A server without alerts (run without detection) says so.
	bare := httptest.NewServer(New(Options{Store: st}))
	defer bare.Close()
	if err := chromedp.Do(ctx, chromedp.Navigate(bare.URL+"/?view=alerts")); err != nil {
		t.Fatal(err)
	}
	poll("no alerts on this server", `!document.querySelector("#alerts-error").hidden && document.querySelector("#alerts-error").textContent.includes("type: detection")`)

	// An alert that kept fewer ids than it counts says so and offers all
	// the events of its host in its time range.
	st2, as2 := alertFixture(t, 2)
	var partial alerts.Alert
	for _, a := range as2 {
		if a.Host == "ws1" {
			partial = a
		}
	}
	if partial.Count != 4 || len(partial.EventIDs) != 2 {
		t.Fatalf("with max_event_ids 2 the ws1 alert is %+v", partial)
	}
	srv2 := httptest.NewServer(New(Options{Store: st2, Alerts: alertapi.Handler(slog.New(slog.DiscardHandler), st2)}))
	defer srv2.Close()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv2.URL+"/?view=alerts&host=ws1")); err != nil {
		t.Fatal(err)
	}
	poll("alerts of ws1", rows+` === 1 && document.querySelector("#a-host").value === "ws1"`)
	if err := chromedp.Do(ctx, chromedp.Click(css(`#alerts tbody tr[data-id="`+partial.ID+`"]`))); err != nil {
		t.Fatal(err)
	}
	poll("the two recorded events", `document.querySelector("#loading").hidden && document.querySelectorAll("#results tbody tr").length === 2 && document.querySelector("#count").textContent.startsWith("2 ")`)
	scope, err = chromedp.Run(ctx, chromedp.Text(css(`#alert-scope`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(scope, "it counts 4 matches and keeps the ids of the first 2") || !strings.Contains(scope, "All events of ws1 in this time range") {
		t.Errorf("banner of a partial alert says %q", scope)
	}
	if err := chromedp.Do(ctx, chromedp.Click(css(`#alert-scope-host`))); err != nil {
		t.Fatal(err)
	}
	// In the alert's range (first to last whoami, 10:00 to 10:15, widened
	// by 45 s, a twentieth): the 4 whoami and the 4 dir events 30 s after
	// each of them.
	poll("all events of the host", `document.querySelector("#alert-scope").hidden && document.querySelector("#loading").hidden && document.querySelector("#count").textContent.startsWith("8 ") && !new URLSearchParams(location.search).has("ids")`)
}

func saveShot(t *testing.T, name string, png []byte) {
	t.Helper()
	p := artifactPath(t, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}
