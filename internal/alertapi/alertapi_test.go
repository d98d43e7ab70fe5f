package alertapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Two alert files (two detection sinks), with updates and a torn line.
func TestHandler(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.ndjson")
	b := filepath.Join(dir, "b.ndjson")
	os.WriteFile(a, []byte(strings.Join([]string{
		`{"change":"created","alert":{"id":"1","rule_id":"r-whoami","rule_title":"Whoami","title":"Whoami","level":"medium","host":"ws1","count":1,"last_seen":"2026-11-20T09:00:00Z"}}`,
		`{"change":"created","alert":{"id":"2","rule_id":"r-net","rule_title":"Net user","title":"Net user","level":"high","host":"srv1","count":1,"last_seen":"2026-11-20T09:05:00Z"}}`,
		`{"change":"updated","alert":{"id":"1","rule_id":"r-whoami","rule_title":"Whoami","title":"Whoami","level":"medium","host":"ws1","count":4,"last_seen":"2026-11-20T10:00:00Z"}}`,
		`{"change":"upd`,
	}, "\n")), 0o600)
	os.WriteFile(b, []byte(`{"change":"created","alert":{"id":"3","rule_id":"r-def","rule_title":"Microsoft Defender XDR alert","title":"Ransomware","level":"critical","host":"WS1","count":1,"last_seen":"2026-11-20T09:30:00Z"}}`+"\n"), 0o600)
	h := Handler([]string{a, b, filepath.Join(dir, "not-yet-written.ndjson")}, slog.New(slog.DiscardHandler))

	tests := []struct {
		query string
		code  int
		want  string // ids, newest first
		total int
	}{
		{"", 200, "1,3,2", 3},
		{"?level=medium", 200, "1", 1},
		{"?level=HIGH&level=critical", 200, "3,2", 2},
		{"?host=ws1", 200, "1,3", 2},
		{"?rule=r-net", 200, "2", 1},
		{"?rule=defender", 200, "3", 1},
		{"?host=ws1&level=critical", 200, "3", 1},
		{"?limit=2", 200, "1,3", 3},
		{"?host=nobody", 200, "", 0},
		{"?limit=0", 400, "", 0},
		{"?limit=1001", 400, "", 0},
		{"?limit=x", 400, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/alerts"+tc.query, nil))
			if rec.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.code, rec.Body)
			}
			if tc.code != 200 {
				return
			}
			var r Response
			if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, a := range r.Alerts {
				ids = append(ids, a.ID)
			}
			if strings.Join(ids, ",") != tc.want || r.Total != tc.total {
				t.Errorf("ids %v total %d, want %s total %d", ids, r.Total, tc.want, tc.total)
			}
			if tc.query == "" && r.Alerts[0].Count != 4 {
				t.Errorf("alert 1 count %d, want its last state (4)", r.Alerts[0].Count)
			}
		})
	}
}
