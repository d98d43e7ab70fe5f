package web

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/defender-intake/defender-intake/internal/query"
	"github.com/defender-intake/defender-intake/internal/store"
)

// The query bar as an analyst expects it: Enter searches the text as typed
// even while field names are suggested; Tab, a click, or the arrow keys
// then Enter accept a suggestion. Before, typing `file` then Enter turned
// the query into `file.hash.sha256:` and searched nothing.
func TestQueryBarEnterSearchesTabCompletes(t *testing.T) {
	st := sampleStore(t)
	srv := httptest.NewServer(New(Options{Store: st}))
	defer srv.Close()
	from, to := "2026-11-19T00:00:00Z", "2026-11-22T00:00:00Z"
	tf, _ := time.Parse(time.RFC3339, from)
	tt, _ := time.Parse(time.RFC3339, to)
	total := func(q string) string {
		t.Helper()
		sql, err := (&query.Compiler{Catalog: st.Catalog()}).Compile(q)
		if err != nil {
			t.Fatal(err)
		}
		r, err := st.Search(context.Background(), store.Filter{Where: sql, From: tf, To: tt}, 1, "")
		if err != nil {
			t.Fatal(err)
		}
		return strconv.FormatInt(r.Total, 10)
	}

	ctx := newChromium(t)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	poll := func(what, cond string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			failShot(ctx, t)
			t.Fatalf("%s: %v", what, err)
		}
	}
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			failShot(ctx, t)
			t.Fatalf("%s: %v", what, err)
		}
	}
	value := func() string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Value(css(`#q`)))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	searched := func(q string) {
		t.Helper()
		want := total(q)
		poll("the search for "+q, `document.querySelector("#loading").hidden && new URLSearchParams(location.search).get("q") === `+strconv.Quote(q)+
			` && document.querySelector("#count").textContent.startsWith("`+want+` ")`)
	}
	clear := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[bool](`(document.querySelector("#q").value = "") === ""`)(ctx, tg)
		return chromedp.Void{}, err
	}
	const suggesting = `!document.querySelector("#suggest").hidden && document.querySelectorAll("#suggest li").length > 0`

	do("opening the page", chromedp.Navigate(srv.URL+"/?"+url.Values{"from": {from}, "to": {to}}.Encode()))
	poll("the field names for suggestions", `document.querySelector("#loading").hidden && typeof fields !== "undefined" && fields.some((f) => f.name === "file.hash.sha256")`)

	// 1. Enter while suggestions show: the search runs on the text as typed.
	do("typing file", chromedp.Click(css(`#q`)), chromedp.SendKeys(css(`#q`), "file"))
	poll("suggestions for file", suggesting)
	do("Enter", pressEnter)
	searched("file")
	if v := value(); v != "file" {
		t.Errorf("after Enter the query bar holds %q, want the text as typed, file", v)
	}
	if hidden, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#suggest").hidden`)); !hidden {
		t.Error("the suggestions still show after the search")
	}

	// 2. Tab accepts the first suggestion; Enter then searches the result.
	do("typing process.na", clear, chromedp.Click(css(`#q`)), chromedp.SendKeys(css(`#q`), "process.na"))
	poll("suggestions for process.na", suggesting)
	first, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#suggest li span").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	do("Tab", chromedp.KeyEvent(kb.Tab))
	if v := value(); v != first+":" {
		t.Fatalf("after Tab the query bar holds %q, want %q", v, first+":")
	}
	do("typing the value", chromedp.SendKeys(css(`#q`), "powershell.exe"), pressEnter)
	searched(first + ":powershell.exe")

	// 3. A click accepts the suggestion clicked.
	do("typing host.na", clear, chromedp.Click(css(`#q`)), chromedp.SendKeys(css(`#q`), "host.na"))
	poll("suggestions for host.na", suggesting+` && [...document.querySelectorAll("#suggest li span:first-child")].some((s) => s.textContent === "host.name")`)
	nth, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll("#suggest li span:first-child")].findIndex((s) => s.textContent === "host.name") + 1`))
	if err != nil {
		t.Fatal(err)
	}
	do("clicking host.name", chromedp.Click(css(`#suggest li:nth-child(`+strconv.Itoa(nth)+`)`)))
	if v := value(); v != "host.name:" {
		t.Errorf("after the click the query bar holds %q, want host.name:", v)
	}

	// 4. A suggestion picked with the arrow keys is accepted by Enter.
	do("typing user.", clear, chromedp.Click(css(`#q`)), chromedp.SendKeys(css(`#q`), "user."))
	poll("suggestions for user.", suggesting+` && document.querySelectorAll("#suggest li").length > 1`)
	do("ArrowDown", chromedp.KeyEvent(kb.ArrowDown))
	picked, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#suggest li.active span").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	do("Enter on the picked suggestion", pressEnter)
	if v := value(); v != picked+":" || !strings.HasPrefix(picked, "user.") {
		t.Errorf("after ArrowDown and Enter the query bar holds %q, want %q", v, picked+":")
	}
	if q, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`new URLSearchParams(location.search).get("q")`)); q != first+":powershell.exe" {
		t.Errorf("accepting a suggestion searched: q=%q", q)
	}
}

// pressEnter presses Enter as a keyboard does: one keyDown carrying the
// text, from which the browser makes the keypress (and so the form's
// implicit submission) only when the keydown was not cancelled.
// chromedp.KeyEvent sends its char event apart, which submits the form
// even when the page cancelled the keydown.
var pressEnter = chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
	enter := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13, Text: "\r", UnmodifiedText: "\r"}
	if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, enter); err != nil {
		return err
	}
	enter.Type, enter.Text, enter.UnmodifiedText = input.DispatchKeyEventTypeKeyUp, "", ""
	_, err := chromedp.Call(ctx, input.DispatchKeyEvent, enter)
	return err
})
