package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/defender-intake/defender-intake/internal/envelope"
	"github.com/defender-intake/defender-intake/internal/normalize"
	"github.com/defender-intake/defender-intake/internal/query"
	"github.com/defender-intake/defender-intake/internal/store"
	"github.com/defender-intake/defender-intake/internal/testenv"
)

// sampleStore loads the project's sample records (examples/) through the
// real envelope reader and normalizer into a store in a temporary directory.
func sampleStore(t *testing.T) *store.Store {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	f, err := os.Open(filepath.Join(filepath.Dir(file), "..", "..", "examples", "defender-sample.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	n := normalize.New(normalize.Options{})
	rd := envelope.NewReader(f)
	var docs []store.Doc
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		doc, meta, err := n.Append(nil, rec.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, store.Doc{JSON: doc, Timestamp: meta.Timestamp})
	}
	if err := st.Write(ctx, docs); err != nil {
		t.Fatal(err)
	}
	if err := st.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// failShot saves what the page showed when a step failed.
func failShot(ctx context.Context, t *testing.T) {
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return
	}
	p := artifactPath(t, "events-page-failure.png")
	os.WriteFile(p, shot, 0o644)
	state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#count").textContent + " | " + document.querySelector("#error").textContent + " | " + location.href`))
	t.Logf("page state: %s; screenshot: %s", state, p)
}

func artifactPath(t *testing.T, name string) string {
	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name)
}

func TestEventsPageInChromium(t *testing.T) {
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
	st := sampleStore(t)
	srv := httptest.NewServer(New(Options{Store: st}))
	defer srv.Close()

	// The expected figures come from the store itself, through the API's
	// own compiler, so the page is checked against the data it shows.
	const q = "process.name:powershell.exe"
	from, to := "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z"
	sql, err := (&query.Compiler{Catalog: st.Catalog()}).Compile(q)
	if err != nil {
		t.Fatal(err)
	}
	tf, _ := time.Parse(time.RFC3339, from)
	tt, _ := time.Parse(time.RFC3339, to)
	want, err := st.Search(context.Background(), store.Filter{Where: sql, From: tf, To: tt}, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	if want.Total < 2 {
		t.Fatalf("sample data has %d events for %s: the test would prove little", want.Total, q)
	}
	var newest map[string]any
	if err := json.Unmarshal(want.Events[0].Doc, &newest); err != nil {
		t.Fatal(err)
	}
	wantHost := newest["host"].(map[string]any)["name"].(string)

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
		chromedp.WindowSize(1400, 900),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	page := srv.URL + "/?" + url.Values{"from": {from}, "to": {to}}.Encode()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	err = chromedp.Do(ctx,
		chromedp.Navigate(page),
		chromedp.WaitVisible(css(`#results tbody tr`)),
		chromedp.SendKeys(css(`#q`), q),
		chromedp.Click(css(`#search`)),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	// The count comes with the histogram and the rows with the first page,
	// in either order: "Loading…" is hidden once both are in.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#loading").hidden && document.querySelector("#count").textContent.startsWith("`+strconv.FormatInt(want.Total, 10)+` ")`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		failShot(ctx, t)
		t.Fatalf("waiting for the result count: %v", err)
	}
	countText, err := chromedp.Run(ctx, chromedp.Text(css(`#count`)))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#results tbody tr").length`))
	if err != nil {
		t.Fatal(err)
	}
	pageURL, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	results, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(css(`#results tbody tr:first-child`)), chromedp.WaitVisible(css(`#detail tr[data-field="host.name"] td.v`))); err != nil {
		t.Fatalf("opening the detail drawer: %v", err)
	}
	host, err := chromedp.Run(ctx, chromedp.Text(css(`#detail tr[data-field="host.name"] td.v`)))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	// Field sidebar: top values of host.name, "+" filters in, the URL
	// follows, and the back button restores the previous query.
	// The sidebar is redrawn when a search completes: wait for that first.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#loading").hidden`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("waiting for the search to settle: %v", err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(css(`#drawer-close`)),
		chromedp.Click(css(`#fields li[data-field="host.name"] .fname .n`)),
		chromedp.WaitVisible(css(`#fields li[data-field="host.name"] .tops li button`)),
	)
	if err != nil {
		failShot(ctx, t)
		t.Fatalf("top values: %v", err)
	}
	topValue, err := chromedp.Run(ctx, chromedp.Text(css(`#fields li[data-field="host.name"] .tops li .v`)))
	if err != nil {
		t.Fatal(err)
	}
	if topValue != wantHost {
		t.Errorf("top host.name value %q, want %q", topValue, wantHost)
	}
	sideShot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(artifactPath(t, "events-page-sidebar.png"), sideShot, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(css(`#fields li[data-field="host.name"] .tops li button`))); err != nil {
		t.Fatal(err)
	}
	filtered := `(` + q + `) host.name:"` + wantHost + `"`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`new URLSearchParams(location.search).get("q") === `+strconv.Quote(filtered), chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		failShot(ctx, t)
		t.Fatalf("filtering in from the sidebar: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#count").textContent.startsWith("`+strconv.FormatInt(want.Total, 10)+` ")`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		failShot(ctx, t)
		t.Fatalf("count after filtering in: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#loading").hidden`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("waiting for the search to settle: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.NavigateBack()); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#q").value === `+strconv.Quote(q), chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		failShot(ctx, t)
		t.Fatalf("back button: %v", err)
	}

	// Error state: a broken query shows its message and position.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#loading").hidden`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("waiting for the search to settle: %v", err)
	}
	err = chromedp.Do(ctx,
		chromedp.SetValue(css(`#q`), `host.name:"ws1`),
		chromedp.Click(css(`#search`)),
		chromedp.WaitVisible(css(`#error`)),
	)
	if err != nil {
		failShot(ctx, t)
		t.Fatalf("error state: %v", err)
	}
	errText, err := chromedp.Run(ctx, chromedp.Text(css(`#error`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errText, "unclosed quote") || !strings.Contains(errText, "position 10") {
		t.Errorf("error box shows %q", errText)
	}
	errShot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(artifactPath(t, "events-page-error.png"), errShot, 0o644); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(countText, strconv.FormatInt(want.Total, 10)+" ") {
		t.Errorf("count shows %q, want %d events", countText, want.Total)
	}
	if rows != len(want.Events) {
		t.Errorf("table has %d rows, want %d", rows, len(want.Events))
	}
	if host != wantHost {
		t.Errorf("drawer host.name = %q, want %q", host, wantHost)
	}
	if u, err := url.Parse(pageURL); err != nil || u.Query().Get("q") != q {
		t.Errorf("the URL does not carry the query: %s", pageURL)
	}
	for name, png := range map[string][]byte{"events-page-results.png": results, "events-page-detail.png": shot} {
		p := artifactPath(t, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
}
