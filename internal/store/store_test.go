package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/query"
	"github.com/defender-intake/defender-intake/internal/store/storetest"
)

var (
	t0   = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	span = 10 * 24 * time.Hour
)

type sample struct {
	ts  time.Time
	doc map[string]any
}

func get(doc map[string]any, field string) any {
	var cur any = doc
	for _, p := range strings.Split(field, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func str(doc map[string]any, field string) string {
	v, _ := get(doc, field).(string)
	return v
}

// openLoaded opens a store in a temporary directory loaded with n
// generated documents, written in batches like the pipeline does.
func openLoaded(t testing.TB, n int) (*Store, []sample) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, Config{Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	g := storetest.New(1, t0, span)
	var samples []sample
	var batch []Doc
	for i := 0; i < n; i++ {
		b, ts := g.Next()
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		samples = append(samples, sample{ts, m})
		batch = append(batch, Doc{JSON: b})
		if len(batch) == 500 || i == n-1 {
			if err := s.Write(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return s, samples
}

func compile(t testing.TB, s *Store, q string) query.SQL {
	t.Helper()
	c := &query.Compiler{Catalog: s.Catalog(), Now: func() time.Time { return t0.Add(span) }}
	sql, err := c.Compile(q)
	if err != nil {
		t.Fatalf("compile %q: %v", q, err)
	}
	return sql
}

func TestSearchMatchesReference(t *testing.T) {
	s, samples := openLoaded(t, 3000)
	ctx := context.Background()
	mid := t0.Add(5 * 24 * time.Hour)
	tests := []struct {
		q    string
		want func(d map[string]any) bool
	}{
		{"", func(map[string]any) bool { return true }},
		{"host.name:ws0007", func(d map[string]any) bool { return str(d, "host.name") == "ws0007" }},
		{"host.name:WS0007", func(d map[string]any) bool { return str(d, "host.name") == "ws0007" }},
		{"host.name:ws00*", func(d map[string]any) bool { return strings.HasPrefix(str(d, "host.name"), "ws00") }},
		{"user.name:alice AND process.name:cmd.exe", func(d map[string]any) bool {
			return str(d, "user.name") == "alice" && str(d, "process.name") == "cmd.exe"
		}},
		{"user.name:alice OR user.name:bob", func(d map[string]any) bool { u := str(d, "user.name"); return u == "alice" || u == "bob" }},
		{"NOT user.name:alice", func(d map[string]any) bool { return str(d, "user.name") != "alice" }},
		{"-_exists_:registry.key", func(d map[string]any) bool { return get(d, "registry.key") == nil }},
		{"_exists_:email.from.address", func(d map[string]any) bool { return get(d, "email.from.address") != nil }},
		{"destination.port:[1 TO 445]", func(d map[string]any) bool { p := get(d, "destination.port").(float64); return p >= 1 && p <= 445 }},
		{"destination.port >= 3389", func(d map[string]any) bool { return get(d, "destination.port").(float64) >= 3389 }},
		{"process.pid:[1000 TO 2000]", func(d map[string]any) bool { p := get(d, "process.pid").(float64); return p >= 1000 && p <= 2000 }},
		{`process.command_line:"-ExecutionPolicy Bypass"`, func(d map[string]any) bool {
			return strings.Contains(str(d, "process.command_line"), "-ExecutionPolicy Bypass")
		}},
		{"event.category:network", func(d map[string]any) bool { return get(d, "event.category").([]any)[0] == "network" }},
		{"action.type:ProcessCreated", func(d map[string]any) bool { return str(d, "action.type") == "ProcessCreated" }},
		{"certutil", func(d map[string]any) bool { return strings.Contains(strings.ToLower(str(d, "message")), "certutil") }},
		{"@timestamp < " + mid.Format(time.RFC3339), func(d map[string]any) bool {
			ts, _ := time.Parse(time.RFC3339Nano, str(d, "@timestamp"))
			return ts.Before(mid)
		}},
		{"(user.name:alice OR user.name:bob) -process.name:cmd.exe destination.port:443", func(d map[string]any) bool {
			u := str(d, "user.name")
			return (u == "alice" || u == "bob") && str(d, "process.name") != "cmd.exe" && get(d, "destination.port").(float64) == 443
		}},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			want := 0
			for _, sm := range samples {
				if tt.want(sm.doc) {
					want++
				}
			}
			if want == 0 && tt.q != "-_exists_:registry.key" {
				t.Fatalf("test data has no match for %q: the test would prove nothing", tt.q)
			}
			page, err := s.Search(ctx, Filter{Where: compile(t, s, tt.q), From: t0, To: t0.Add(span)}, 50, "")
			if err != nil {
				t.Fatal(err)
			}
			if page.Total != int64(want) {
				t.Errorf("total = %d, want %d", page.Total, want)
			}
			if len(page.Events) != min(50, want) {
				t.Errorf("page has %d events, want %d", len(page.Events), min(50, want))
			}
		})
	}
}

func TestCursorPagingWalksEverythingNewestFirst(t *testing.T) {
	s, samples := openLoaded(t, 1234)
	ctx := context.Background()
	f := Filter{Where: compile(t, s, ""), From: t0, To: t0.Add(span)}
	var got []Event
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("paging does not end")
		}
		p, err := s.Search(ctx, f, 100, cursor)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Events...)
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if len(got) != len(samples) {
		t.Fatalf("paged %d events, stored %d", len(got), len(samples))
	}
	seen := map[uint64]bool{}
	for i, e := range got {
		if seen[e.ID] {
			t.Fatalf("event %d returned twice", e.ID)
		}
		seen[e.ID] = true
		if i > 0 && e.Timestamp.After(got[i-1].Timestamp) {
			t.Fatalf("not newest first at %d: %v after %v", i, e.Timestamp, got[i-1].Timestamp)
		}
	}
	if _, err := s.Search(ctx, f, 10, "garbage!"); !errors.Is(err, ErrBadCursor) {
		t.Errorf("bad cursor: got %v", err)
	}
}

func TestGetRestoresTheWholeDocument(t *testing.T) {
	s, samples := openLoaded(t, 50)
	ctx := context.Background()
	for id := uint64(1); id <= 50; id += 7 {
		e, err := s.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(e.Doc, &got); err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(samples[id-1].doc)
		have, _ := json.Marshal(got)
		if string(want) != string(have) {
			t.Errorf("event %d\n got %s\nwant %s", id, have, want)
		}
		if e.Message != str(samples[id-1].doc, "message") {
			t.Errorf("event %d message differs", id)
		}
	}
	if _, err := s.Get(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: got %v", err)
	}
}

func TestHistogramAndTop(t *testing.T) {
	s, samples := openLoaded(t, 2000)
	ctx := context.Background()
	f := Filter{Where: compile(t, s, "process.name:cmd.exe"), From: t0, To: t0.Add(span)}
	buckets, width, err := s.Histogram(ctx, f, 10)
	if err != nil {
		t.Fatal(err)
	}
	if width != 24*time.Hour || len(buckets) != 10 {
		t.Fatalf("width %v, %d buckets", width, len(buckets))
	}
	perDay := map[int]int64{}
	counts := map[string]int64{}
	var total int64
	for _, sm := range samples {
		if str(sm.doc, "process.name") == "cmd.exe" {
			perDay[int(sm.ts.Sub(t0)/(24*time.Hour))]++
			counts[str(sm.doc, "user.name")]++
			total++
		}
	}
	for i, b := range buckets {
		if b.Count != perDay[i] {
			t.Errorf("bucket %d (%v) = %d, want %d", i, b.Start, b.Count, perDay[i])
		}
	}
	top, err := s.Top(ctx, "user.name", f, 3)
	if err != nil {
		t.Fatal(err)
	}
	type kv struct {
		k string
		v int64
	}
	var want []kv
	for k, v := range counts {
		want = append(want, kv{k, v})
	}
	sort.Slice(want, func(i, j int) bool {
		return want[i].v > want[j].v || want[i].v == want[j].v && want[i].k < want[j].k
	})
	if len(top) != 3 {
		t.Fatalf("top has %d values", len(top))
	}
	for i := range top {
		if top[i].Value != want[i].k || top[i].Count != want[i].v {
			t.Errorf("top[%d] = %+v, want %+v", i, top[i], want[i])
		}
	}
	// A field without a typed column is counted in the newest matches;
	// below that number the counts are exact.
	jsonTop, err := s.Top(ctx, "host.os.type", f, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(jsonTop) != 1 || jsonTop[0].Value != "windows" || jsonTop[0].Count != total {
		t.Errorf("top host.os.type = %+v, want windows × %d", jsonTop, total)
	}
	for _, field := range []string{"event.category", "destination.port", "process.pid", "@timestamp"} {
		if _, err := s.Top(ctx, field, f, 5); err != nil {
			t.Errorf("top of %s: %v", field, err)
		}
	}
	if _, err := s.Top(ctx, "nope", f, 5); !errors.Is(err, ErrUnknownField) {
		t.Errorf("unknown field: %v", err)
	}
}

func TestWriteIsDurableAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(ctx, Config{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := storetest.New(2, t0, span)
	var batch []Doc
	for range 100 {
		b, _ := g.Next()
		batch = append(batch, Doc{JSON: b})
	}
	batch = append(batch, Doc{JSON: []byte(`[1,2]`)}, Doc{JSON: []byte(`{not json`)})
	err = s.Write(ctx, batch)
	var de *DocError
	if !errors.As(err, &de) || len(de.Failed) != 2 || de.Failed[0] != 100 || de.Failed[1] != 101 {
		t.Fatalf("want a DocError for the two bad documents, got %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, Config{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != 100 || st.Bytes == 0 {
		t.Errorf("after reopen: %+v", st)
	}
	// ids continue after the last one
	b, _ := g.Next()
	if err := s.Write(ctx, []Doc{{JSON: b}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, 101); err != nil {
		t.Errorf("id after reopen: %v", err)
	}
	// fields seen before the restart are still known
	if _, ok := s.Catalog().Column("process.parent.pid"); !ok {
		t.Error("field catalogue lost on reopen")
	}
}

func TestRetention(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{Dir: t.TempDir(), MaxAge: 5 * 24 * time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g := storetest.New(3, t0, span)
	var batch []Doc
	old := 0
	now := t0.Add(span)
	for range 1000 {
		b, ts := g.Next()
		if ts.Before(now.Add(-5 * 24 * time.Hour)) {
			old++
		}
		batch = append(batch, Doc{JSON: b})
	}
	if err := s.Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := s.Retain(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(old) || old == 0 {
		t.Errorf("deleted %d, want %d", n, old)
	}
}

func TestRetentionBySize(t *testing.T) {
	ctx := context.Background()
	const limit = 12 << 20
	s, err := Open(ctx, Config{Dir: t.TempDir(), MaxBytes: limit}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Small documents in time order, enough for several DuckDB row groups
	// (122,880 rows each), so that deleting the oldest frees whole groups.
	const n = 500_000
	rng := rand.New(rand.NewPCG(1, 2))
	batch := make([]Doc, 0, 10000)
	for i := range n {
		ts := t0.Add(time.Duration(i) * time.Second)
		doc := fmt.Sprintf(`{"@timestamp":%q,"host":{"name":"h%d"},"file":{"hash":{"sha256":"%016x"}}}`, ts.Format(time.RFC3339), i%50, rng.Uint64())
		batch = append(batch, Doc{JSON: []byte(doc)})
		if len(batch) == cap(batch) {
			if err := s.Write(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := s.usedBytes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before <= limit {
		t.Fatalf("test data too small to exceed the limit: %d bytes", before)
	}
	deleted, err := s.Retain(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := s.usedBytes(ctx)
	if deleted == 0 || after > limit {
		t.Errorf("deleted %d events, %d -> %d bytes (limit %d)", deleted, before, after, limit)
	}
	var oldest, newest time.Time
	var left int64
	s.db.QueryRow("SELECT min(ts), max(ts), count(*) FROM events").Scan(&oldest, &newest, &left)
	if left+deleted != n || !newest.Equal(t0.Add((n-1)*time.Second)) {
		t.Errorf("left %d + deleted %d != %d, newest %v", left, deleted, n, newest)
	}
	if !oldest.After(t0) {
		t.Errorf("oldest event %v was not the one deleted", oldest)
	}
	t.Logf("%d bytes -> %d bytes, %d of %d events deleted", before, after, deleted, n)
}

func TestInjectionAgainstRealDatabase(t *testing.T) {
	s, samples := openLoaded(t, 200)
	ctx := context.Background()
	payloads := []string{
		`'; DROP TABLE events; --`, `' OR '1'='1`, `x') OR TRUE --`, `\'; DELETE FROM events; --`,
	}
	for _, p := range payloads {
		esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(p)
		for _, q := range []string{
			`"` + esc + `"`, `host.name:"` + esc + `"`, `host.name:*` + strings.ReplaceAll(esc, " ", `\ `) + `*`,
			`destination.port:["` + esc + `" TO 5]`, `process.pid:[1 TO "` + esc + `"]`, `event.category:"` + esc + `"`,
			`process.command_line:"` + esc + `"`, `microsoft.defender.report.id:"` + esc + `"`,
		} {
			c := &query.Compiler{Catalog: s.Catalog()}
			sql, err := c.Compile(q)
			if err != nil {
				continue
			}
			page, err := s.Search(ctx, Filter{Where: sql, From: t0, To: t0.Add(span)}, 10, "")
			if err != nil {
				// a type error is fine; a syntax error would mean the
				// payload reached the SQL text
				if strings.Contains(err.Error(), "syntax") || strings.Contains(err.Error(), "Parser") {
					t.Errorf("%q reached the SQL parser: %v", q, err)
				}
				continue
			}
			if page.Total != 0 {
				t.Errorf("%q matched %d events", q, page.Total)
			}
		}
	}
	var n int
	if err := s.db.QueryRow("SELECT count(*) FROM events").Scan(&n); err != nil || n != len(samples) {
		t.Fatalf("table damaged: %d rows, %v", n, err)
	}
}

// TestTopOfJSONFieldCountsTheNewestMatches checks the sampled top values of
// a field without a typed column against the newest TopSample matches,
// counted here.
func TestTopOfJSONFieldCountsTheNewestMatches(t *testing.T) {
	s, samples := openLoaded(t, TopSample+2000)
	f := Filter{Where: compile(t, s, ""), From: t0, To: t0.Add(span)}
	got, err := s.Top(context.Background(), "process.parent.pid", f, 3)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i].ts.After(samples[j].ts) })
	counts := map[string]int64{}
	for _, sm := range samples[:TopSample] {
		counts[fmt.Sprint(get(sm.doc, "process.parent.pid"))]++
	}
	var want []TopValue
	for v, c := range counts {
		want = append(want, TopValue{Value: v, Count: c})
	}
	sort.Slice(want, func(i, j int) bool {
		if want[i].Count != want[j].Count {
			return want[i].Count > want[j].Count
		}
		return want[i].Value < want[j].Value
	})
	if fmt.Sprint(got) != fmt.Sprint(want[:3]) {
		t.Fatalf("top process.parent.pid = %v, want %v (newest %d of %d matches)", got, want[:3], TopSample, len(samples))
	}
}
