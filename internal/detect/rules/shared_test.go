package rules

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/defender-intake/defender-intake/internal/detect/fieldmap"
	"github.com/defender-intake/defender-intake/internal/detect/sigma"
	"github.com/defender-intake/defender-intake/internal/normalize"
	"github.com/defender-intake/defender-intake/internal/testenv"
)

// TestSharedCases evaluates each case of ../shared/sigma/cases.jsonl: the
// rule on the raw record must give the expected match.
func TestSharedCases(t *testing.T) {
	dir := testenv.SharedDir(t, "sigma")
	f, err := os.Open(filepath.Join(dir, "cases.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type testCase struct {
		Name   string          `json:"name"`
		Rule   string          `json:"rule"`
		RuleID string          `json:"rule_id"`
		Match  bool            `json:"match"`
		Record json.RawMessage `json:"record"`
	}
	m := fieldmap.Default()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	n := 0
	for sc.Scan() {
		var c testCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("case line %d: %v", n+1, err)
		}
		n++
		t.Run(c.Name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, c.Rule))
			if err != nil {
				t.Fatal(err)
			}
			e, err := sigma.Compile([]sigma.Source{{Path: c.Rule, Data: data}}, sigma.Options{Mapper: m})
			if err != nil {
				t.Fatal(err)
			}
			if len(e.Rules()) != 1 {
				t.Fatalf("rule %s did not load: %+v", c.Rule, e.Skipped())
			}
			r := e.Rules()[0]
			if r.ID != c.RuleID {
				t.Fatalf("rule id %s, case says %s", r.ID, c.RuleID)
			}
			doc, _, err := normalize.New(normalize.Options{}).Append(nil, c.Record)
			if err != nil {
				t.Fatal(err)
			}
			// The raw record alone (what a Sigma rule's mapped fields read)
			// and with its normalized document (as the service runs).
			for _, mode := range []struct {
				name string
				ecs  []byte
			}{{"raw", nil}, {"normalized", doc}} {
				rec := m.NewRecord()
				if err := rec.Reset(c.Record, mode.ecs); err != nil {
					t.Fatal(err)
				}
				x := e.NewEvaluator()
				if got := x.MatchRule(r, rec); got != c.Match {
					t.Errorf("%s: MatchRule = %v, want %v", mode.name, got, c.Match)
				}
				// The indexed, prefiltered path must agree.
				if got := len(x.Match(rec, nil)) == 1; got != c.Match {
					t.Errorf("%s: Match (indexed) = %v, want %v", mode.name, got, c.Match)
				}
			}
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 30 {
		t.Fatalf("only %d cases read", n)
	}
}

// TestSharedCorpusLoads compiles every SigmaHQ rule of ../shared/sigma and
// requires at least 90% to load; skip reasons are reported grouped.
func TestSharedCorpusLoads(t *testing.T) {
	dir := testenv.SharedDir(t, "sigma/rules")
	srcs, err := ReadDirs(dir)
	if err != nil {
		t.Fatal(err)
	}
	e, err := sigma.Compile(srcs, sigma.Options{Mapper: fieldmap.Default()})
	if err != nil {
		t.Fatal(err)
	}
	loaded, skipped := len(e.Rules()), len(e.Skipped())
	if loaded+skipped != len(srcs) || len(srcs) < 1900 {
		t.Fatalf("loaded %d + skipped %d != %d files", loaded, skipped, len(srcs))
	}
	byReason := map[string][]sigma.Skipped{}
	for _, s := range e.Skipped() {
		byReason[s.Reason] = append(byReason[s.Reason], s)
	}
	reasons := make([]string, 0, len(byReason))
	for r := range byReason {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool { return len(byReason[reasons[i]]) > len(byReason[reasons[j]]) })
	ratio := float64(loaded) / float64(len(srcs))
	t.Logf("loaded %d of %d rules (%.1f%%), skipped %d", loaded, len(srcs), 100*ratio, skipped)
	for _, r := range reasons {
		details := map[string]int{}
		for _, s := range byReason[r] {
			details[s.Detail]++
		}
		t.Logf("  %4d %s", len(byReason[r]), r)
		for d, c := range details {
			t.Logf("       %4d %s", c, d)
		}
	}
	if ratio < 0.90 {
		t.Errorf("only %.1f%% of the rules load, want at least 90%%", 100*ratio)
	}
}
