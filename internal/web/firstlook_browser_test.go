package web

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The first look shows data: the shipped sample has fixed timestamps
// (2026-11-20), so after `ingest` the default "Last 24 hours" holds none of
// them. The page must open on the 24 hours up to the newest event, and an
// empty result in a range chosen by the user must say where the events are
// and offer to show them.
func TestFirstLookInChromium(t *testing.T) {
	st := sampleStore(t)
	stats, err := st.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Newest == nil || time.Since(*stats.Newest) < 8*24*time.Hour {
		t.Fatalf("the sample's newest event (%v) must be older than the 7 days this test asks for", stats.Newest)
	}
	total := strconv.FormatInt(stats.Events, 10)
	newest := stats.Newest.Format("2006-01-02 15:04:05")
	// The range the page moves to ends on the second after the newest event.
	wantTo := stats.Newest.Truncate(time.Second).Add(time.Second)
	srv := httptest.NewServer(New(Options{Store: st}))
	defer srv.Close()
	ctx := newChromium(t)
	poll := func(what, cond string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			failShot(ctx, t)
			t.Fatalf("%s: %v", what, err)
		}
	}
	const settled = `document.querySelector("#loading").hidden && `
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	// 1. The default range is empty: the page opens on the newest events.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	poll("the page moves to the newest events", settled+`document.querySelector("#count").textContent.startsWith("`+total+` ")`)
	if note := text(`#range-note`); !strings.Contains(note, "Nothing in the last 24 hours") || !strings.Contains(note, newest) {
		t.Errorf("range note says %q, want it to name the empty default range and the newest event %s", note, newest)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(loc)
	if got, _ := time.Parse(time.RFC3339, u.Query().Get("to")); !got.Equal(wantTo) {
		t.Errorf("URL %s: to=%s, want %s", loc, u.Query().Get("to"), wantTo.Format(time.RFC3339))
	}
	if got, _ := time.Parse(time.RFC3339, u.Query().Get("from")); !got.Equal(wantTo.Add(-24 * time.Hour)) {
		t.Errorf("URL %s: from is not 24 hours before to", loc)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`#range`))); v != "custom" {
		t.Errorf("range picker shows %q, want custom", v)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	saveShot(t, "firstlook-default-range.png", shot)

	// 2. A range the user chose is kept; the empty state says where the
	// events are, and its button shows them.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/?range=7d")); err != nil {
		t.Fatal(err)
	}
	poll("the hint in the empty state", settled+`!document.querySelector("#empty").hidden && !document.querySelector("#empty-where").hidden`)
	if c := text(`#count`); !strings.HasPrefix(c, "0 ") {
		t.Errorf("count in the chosen empty range is %q, want 0 events", c)
	}
	hint := text(`#empty-where`)
	if !strings.Contains(hint, total+" events stored") || !strings.Contains(hint, newest) || !strings.Contains(hint, stats.Oldest.Format("2006-01-02 15:04:05")) {
		t.Errorf("empty state hint %q, want %s events from %s to %s", hint, total, stats.Oldest, newest)
	}
	if shot, err = chromedp.Run(ctx, chromedp.FullScreenshot(100)); err != nil {
		t.Fatal(err)
	}
	saveShot(t, "firstlook-empty-state.png", shot)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#empty-show`))); err != nil {
		t.Fatal(err)
	}
	poll("the button shows every stored event", settled+`document.querySelector("#count").textContent.startsWith("`+total+` ") && document.querySelector("#empty").hidden`)
	if !strings.Contains(text(`#count`), total) {
		t.Errorf("count after the button: %q", text(`#count`))
	}

	// 3. A query that matches nothing in a range holding every event: the
	// plain empty state, no hint (the data is not elsewhere).
	all := url.Values{"q": {"process.name:nosuch-doc-test.exe"}, "from": {stats.Oldest.Add(-time.Hour).Format(time.RFC3339)}, "to": {wantTo.Add(time.Hour).Format(time.RFC3339)}}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/?"+all.Encode())); err != nil {
		t.Fatal(err)
	}
	poll("the plain empty state", settled+`!document.querySelector("#empty").hidden && document.querySelector("#count").textContent.startsWith("0 ")`)
	// "Loading…" is hidden only once explainEmpty has had the stats.
	if hidden, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#empty-where").hidden`)); !hidden {
		t.Errorf("the hint shows although the range holds every event: %q", text(`#empty-where`))
	}
}
