package web

import (
	"net/url"
	"testing"
)

// Grouped values through the API and a real store: the totals (event count
// and histogram) of field:(a OR b) are those of field:a OR field:b, and the
// sum of the two single queries, which match disjoint events; with a bare
// word beside the group (the word index answers the word, SQL the group)
// and under NOT.
func TestGroupedValuesThroughTheStore(t *testing.T) {
	st := loadedStore(t, 3000)
	srv := newServer(t, st, "")
	week := "&from=now-7d&to=now"
	counts := func(q string) (total, histogram float64) {
		t.Helper()
		status, m := getJSON(t, srv, "/api/events?limit=1&q="+url.QueryEscape(q)+week, "")
		if status != 200 {
			t.Fatalf("%q: status %d: %v", q, status, m)
		}
		total = m["total"].(float64)
		status, m = getJSON(t, srv, "/api/histogram?buckets=7&q="+url.QueryEscape(q)+week, "")
		if status != 200 {
			t.Fatalf("%q: histogram status %d: %v", q, status, m)
		}
		for _, b := range m["buckets"].([]any) {
			histogram += b.(map[string]any)["count"].(float64)
		}
		return total, histogram
	}
	cmd, _ := counts("process.name:cmd.exe")
	ps, _ := counts("process.name:powershell.exe")
	if cmd == 0 || ps == 0 {
		t.Fatalf("the generated events hold no cmd.exe (%v) or powershell.exe (%v)", cmd, ps)
	}
	all, _ := counts("")
	tests := []struct {
		grouped, spelled string
		want             float64 // -1: only compare with the spelled-out query
	}{
		{"process.name:(cmd.exe OR powershell.exe)", "process.name:cmd.exe OR process.name:powershell.exe", cmd + ps},
		{"process.name:(cmd.exe OR (powershell.exe))", "process.name:cmd.exe OR process.name:powershell.exe", cmd + ps},
		{`process.name:("cmd.exe" OR power*)`, "process.name:cmd.exe OR process.name:powershell.exe", cmd + ps},
		{"process.name:(NOT cmd.exe)", "-process.name:cmd.exe", all - cmd},
		{"process.name:(cmd.exe AND powershell.exe)", "process.name:cmd.exe AND process.name:powershell.exe", 0},
		{"whoami process.name:(cmd.exe OR powershell.exe)", "whoami (process.name:cmd.exe OR process.name:powershell.exe)", -1},
		{"-whoami process.name:(cmd.exe OR powershell.exe)", "-whoami (process.name:cmd.exe OR process.name:powershell.exe)", -1},
		{"message:(whoami OR bypass)", "message:whoami OR message:bypass", -1},
	}
	for _, tt := range tests {
		t.Run(tt.grouped, func(t *testing.T) {
			gt, gh := counts(tt.grouped)
			st, sh := counts(tt.spelled)
			if gt != st || gh != sh || gt != gh {
				t.Errorf("grouped: total %v, histogram %v; spelled out: total %v, histogram %v", gt, gh, st, sh)
			}
			if tt.want >= 0 && gt != tt.want {
				t.Errorf("total %v, want %v", gt, tt.want)
			}
		})
	}
}
