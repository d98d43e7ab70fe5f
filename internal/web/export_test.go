package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/defender-intake/defender-intake/internal/store"
)

func getRaw(t *testing.T, url, token string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// allEvents pages through /api/events: the documents an export must hold.
func allEvents(t *testing.T, base, q string) (docs []json.RawMessage, total int) {
	t.Helper()
	cursor := ""
	for {
		resp, b := getRaw(t, base+"/api/events?limit=500&from=now-7d&q="+url.QueryEscape(q)+"&cursor="+url.QueryEscape(cursor), "")
		if resp.StatusCode != 200 {
			t.Fatalf("events: %d %s", resp.StatusCode, b)
		}
		var page struct {
			Events []struct {
				Doc json.RawMessage `json:"doc"`
			} `json:"events"`
			Next  string `json:"next"`
			Total int    `json:"total"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		if cursor == "" {
			total = page.Total
		}
		for _, e := range page.Events {
			docs = append(docs, e.Doc)
		}
		if page.Next == "" {
			return docs, total
		}
		cursor = page.Next
	}
}

func TestExport(t *testing.T) {
	st := loadedStore(t, 2500)
	// One event whose user name is a spreadsheet formula.
	ctx := context.Background()
	formula := `=HYPERLINK("http://x.test","click")`
	evil := `{"@timestamp":"2024-03-07T12:00:00Z","event":{"dataset":"m365_defender.device_process"},"host":{"name":"evilhost"},"user":{"name":` + string(must(json.Marshal(formula))) + `},"process":{"command_line":"a, \"b\"\nc"}}`
	if err := st.Write(ctx, []store.Doc{{JSON: []byte(evil)}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, st, "")
	week := "&from=now-7d"

	want, total := allEvents(t, srv.URL, "")
	if total != len(want) || total != 2501 {
		t.Fatalf("/api/events: total %d, paged %d", total, len(want))
	}

	t.Run("ndjson equals /api/events, newest first", func(t *testing.T) {
		resp, b := getRaw(t, srv.URL+"/api/export?format=ndjson"+week, "")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, ".ndjson") {
			t.Errorf("Content-Disposition %q", cd)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
			t.Errorf("Content-Type %q", ct)
		}
		lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
		if len(lines) != len(want) {
			t.Fatalf("%d lines, /api/events has %d", len(lines), len(want))
		}
		for i := range lines {
			if !bytes.Equal(lines[i], want[i]) {
				t.Fatalf("line %d:\n%s\n/api/events:\n%s", i, lines[i], want[i])
			}
		}
	})

	t.Run("limit honoured", func(t *testing.T) {
		for _, n := range []int{1, 999, 1000, 1001, 2600} {
			_, b := getRaw(t, srv.URL+"/api/export?limit="+itoa(n)+week, "")
			got := bytes.Count(b, []byte("\n"))
			if exp := min(n, len(want)); got != exp {
				t.Errorf("limit=%d: %d lines, want %d", n, got, exp)
			}
		}
	})

	t.Run("query narrows like /api/events", func(t *testing.T) {
		q := "host.name:evilhost OR user.name:alice"
		docs, total := allEvents(t, srv.URL, q)
		_, b := getRaw(t, srv.URL+"/api/export?q="+url.QueryEscape(q)+week, "")
		if got := bytes.Count(b, []byte("\n")); got != total || got != len(docs) || total == 0 {
			t.Errorf("export has %d lines, /api/events total %d", got, total)
		}
	})

	t.Run("csv parses back and neutralizes formulas", func(t *testing.T) {
		resp, b := getRaw(t, srv.URL+"/api/export?format=csv"+week, "")
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(want)+1 {
			t.Fatalf("%d rows, want %d and a header", len(rows), len(want))
		}
		if strings.Join(rows[0], ",") != "'@timestamp,event.dataset,event.action,host.name,user.name,process.name,process.command_line,source.ip,destination.ip" {
			t.Errorf("header %q", rows[0])
		}
		found := false
		for _, r := range rows[1:] {
			if r[3] == "evilhost" {
				found = true
				if r[4] != "'"+formula || r[6] != "a, \"b\"\nc" || r[1] != "m365_defender.device_process" {
					t.Errorf("row %q", r)
				}
			}
		}
		if !found {
			t.Error("the formula event is not in the CSV")
		}
		_, b = getRaw(t, srv.URL+"/api/export?format=csv&limit=3&q=host.name:evilhost&fields="+url.QueryEscape("host.name,user.name")+week, "")
		rows, err = csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil || len(rows) != 2 || len(rows[0]) != 2 || rows[0][0] != "host.name" || rows[1][0] != "evilhost" {
			t.Errorf("fields=: %v %q", err, rows)
		}
	})

	for _, bad := range []string{"limit=0", "limit=100001", "limit=x", "format=xml", "format=csv&fields=nosuch.field",
		"fields=host.name", "from=yesterday", "from=now&to=now-1h", "to=2700-01-01", "q=" + url.QueryEscape("host.name:(a")} {
		resp, b := getRaw(t, srv.URL+"/api/export?"+bad, "")
		if resp.StatusCode != 400 || !strings.Contains(string(b), `"error"`) {
			t.Errorf("%s: %d %s", bad, resp.StatusCode, b)
		}
	}

	t.Run("token required when set", func(t *testing.T) {
		srv := newServer(t, st, "s3cret")
		if resp, _ := getRaw(t, srv.URL+"/api/export?limit=1"+week, ""); resp.StatusCode != 401 {
			t.Errorf("no token: %d", resp.StatusCode)
		}
		if resp, _ := getRaw(t, srv.URL+"/api/export?limit=1"+week, "wrong"); resp.StatusCode != 401 {
			t.Errorf("wrong token: %d", resp.StatusCode)
		}
		if resp, b := getRaw(t, srv.URL+"/api/export?limit=1"+week, "s3cret"); resp.StatusCode != 200 || bytes.Count(b, []byte("\n")) != 1 {
			t.Errorf("token: %d %s", resp.StatusCode, b)
		}
	})
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func itoa(n int) string { return strconv.Itoa(n) }
