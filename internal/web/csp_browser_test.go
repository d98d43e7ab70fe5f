package web

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/defender-intake/defender-intake/internal/alertapi"
	"github.com/defender-intake/defender-intake/internal/testenv"
)

// The page works under its Content-Security-Policy: Chromium loads it,
// draws the histogram and the results, opens the Alerts view, and reports
// no CSP violation and no script error.
func TestPageUnderCSPInChromium(t *testing.T) {
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
	srv := httptest.NewServer(New(Options{Store: st, Alerts: alertapi.Handler(slog.New(slog.DiscardHandler), st)}))
	defer srv.Close()

	var mu sync.Mutex
	var problems []string
	listen := func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *log.EventEntryAdded:
			if strings.HasSuffix(ev.Entry.URL, "/favicon.ico") {
				return // the page has none; browsers ask anyway
			}
			if ev.Entry.Level == log.EntryLevelError || strings.Contains(ev.Entry.Text, "Content Security Policy") {
				problems = append(problems, "log: "+ev.Entry.Text+" ("+ev.Entry.URL+")")
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:0:0],
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 800),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf), chromedp.WithListener(listen))
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	page := srv.URL + "/?" + url.Values{"from": {"2026-11-19T00:00:00Z"}, "to": {"2026-11-22T00:00:00Z"}}.Encode()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(page),
		chromedp.WaitVisible(chromedp.CSS(`#results tbody tr`)),
	); err != nil {
		failShot(ctx, t)
		t.Fatalf("browser: %v", err)
	}
	// The histogram has bars: some pixel of its canvas is not blank.
	drawn, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const c = document.querySelector("canvas"); if (!c || !c.width) return false;
		const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true; return false; })()`, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil || !drawn {
		failShot(ctx, t)
		t.Errorf("histogram not drawn: %v", err)
	}
	// The Export link carries the search the page ran: its range and format.
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#export-csv`))); err != nil {
		t.Fatalf("export link: %v", err)
	}
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#export-csv").href`))
	if err != nil {
		t.Fatalf("export link: %v", err)
	}
	u, perr := url.Parse(href)
	if perr != nil || u.Path != "/api/export" || u.Query().Get("format") != "csv" || u.Query().Get("from") != "2026-11-19T00:00:00Z" || u.Query().Get("to") != "2026-11-22T00:00:00Z" {
		t.Errorf("export link %q", href)
	} else if resp, b := getRaw(t, href, ""); resp.StatusCode != 200 || strings.Count(string(b), "\n") < 2 {
		t.Errorf("export link answers %d: %.200s", resp.StatusCode, b)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/?view=alerts"),
		chromedp.WaitReady(chromedp.CSS(`#tab-alerts`)),
	); err != nil {
		t.Fatalf("alerts view: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
}
