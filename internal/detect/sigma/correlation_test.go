package sigma

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Base rules for the correlation tests, in one multi-document file with
// the correlation (as Sigma v2 writes them).
const baseRules = `title: failed logon
id: base-fail
name: failed_logon
logsource:
  category: auth
detection:
  sel:
    Outcome: failure
  condition: sel
level: low
---
title: success logon
id: base-ok
name: ok_logon
logsource:
  category: auth
detection:
  sel:
    Outcome: success
  condition: sel
level: low
`

func correlation(body string) string {
	return baseRules + "---\ntitle: corr\nid: corr1\nlevel: high\ncorrelation:\n" + indent(body)
}

type corrEvent struct {
	min             int // minutes after t0
	outcome, user   string
	host            string
	wantFired       bool
	wantFiredGroups string
}

func TestCorrelations(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		body   string
		events []corrEvent
	}{
		{"event_count gte within timespan", "type: event_count\nrules: [failed_logon]\ngroup-by: [User]\ntimespan: 10m\ncondition:\n  gte: 3", []corrEvent{
			{min: 0, outcome: "failure", user: "a"},
			{min: 1, outcome: "failure", user: "b"},
			{min: 2, outcome: "failure", user: "A"},
			{min: 3, outcome: "failure", user: "a", wantFired: true, wantFiredGroups: "a"},
			{min: 4, outcome: "failure", user: "a"}, // counting restarted
		}},
		{"event_count outside timespan", "type: event_count\nrules: [failed_logon]\ngroup-by: [User]\ntimespan: 5m\ncondition:\n  gte: 3", []corrEvent{
			{min: 0, outcome: "failure", user: "a"},
			{min: 4, outcome: "failure", user: "a"},
			{min: 9, outcome: "failure", user: "a"},
			{min: 10, outcome: "failure", user: "a"},
			{min: 11, outcome: "failure", user: "a", wantFired: true, wantFiredGroups: "a"},
		}},
		{"event_count gt", "type: event_count\nrules: [failed_logon]\ngroup-by: [User]\ntimespan: 5m\ncondition:\n  gt: 2", []corrEvent{
			{min: 0, outcome: "failure", user: "a"},
			{min: 1, outcome: "failure", user: "a", wantFired: false},
			{min: 2, outcome: "failure", user: "a", wantFired: true, wantFiredGroups: "a"},
		}},
		{"value_count", "type: value_count\nrules: [failed_logon]\ngroup-by: [Host]\ntimespan: 10m\ncondition:\n  field: User\n  gte: 3", []corrEvent{
			{min: 0, outcome: "failure", user: "a", host: "h"},
			{min: 1, outcome: "failure", user: "a", host: "h"},
			{min: 2, outcome: "failure", user: "b", host: "h"},
			{min: 3, outcome: "failure", user: "c", host: "h2"},
			{min: 4, outcome: "failure", user: "c", host: "h", wantFired: true, wantFiredGroups: "h"},
		}},
		{"temporal any order", "type: temporal\nrules: [ok_logon, failed_logon]\ngroup-by: [User]\ntimespan: 5m", []corrEvent{
			{min: 0, outcome: "success", user: "a"},
			{min: 1, outcome: "failure", user: "b"},
			{min: 2, outcome: "failure", user: "a", wantFired: true, wantFiredGroups: "a"},
		}},
		{"temporal too far apart", "type: temporal\nrules: [ok_logon, failed_logon]\ngroup-by: [User]\ntimespan: 5m", []corrEvent{
			{min: 0, outcome: "success", user: "a"},
			{min: 6, outcome: "failure", user: "a"},
		}},
		{"temporal_ordered in order", "type: temporal_ordered\nrules: [failed_logon, ok_logon]\ngroup-by: [User]\ntimespan: 5m", []corrEvent{
			{min: 0, outcome: "failure", user: "a"},
			{min: 1, outcome: "success", user: "a", wantFired: true, wantFiredGroups: "a"},
		}},
		{"temporal_ordered wrong order", "type: temporal_ordered\nrules: [failed_logon, ok_logon]\ngroup-by: [User]\ntimespan: 5m", []corrEvent{
			{min: 0, outcome: "success", user: "a"},
			{min: 1, outcome: "failure", user: "a"},
		}},
		{"aliases", "type: temporal\nrules: [failed_logon, ok_logon]\ngroup-by: [who]\ntimespan: 5m\naliases:\n  who:\n    failed_logon: User\n    ok_logon: TargetUser", []corrEvent{
			{min: 0, outcome: "failure", user: "a"},
			{min: 1, outcome: "success", user: "x", host: "a", wantFired: true, wantFiredGroups: "a"},
		}},
		{"missing group field joins no group", "type: event_count\nrules: [failed_logon]\ngroup-by: [User]\ntimespan: 5m\ncondition:\n  gte: 2", []corrEvent{
			{min: 0, outcome: "failure"},
			{min: 1, outcome: "failure"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := compileOne(t, strings.ReplaceAll(correlation(c.body), "category: auth", "category: proc"), Options{})
			if len(e.Skipped()) > 0 || len(e.Correlations()) != 1 {
				t.Fatalf("skipped %+v", e.Skipped())
			}
			x := e.NewEvaluator()
			cr := e.NewCorrelator(0)
			for i, ev := range c.events {
				fields := map[string]any{"Outcome": ev.outcome}
				if ev.user != "" {
					fields["User"] = ev.user
				}
				if ev.host != "" {
					fields["Host"] = ev.host
					fields["TargetUser"] = ev.host
				}
				matched := x.Match(mapEvent{table: "proc", fields: fields}, nil)
				fired := cr.Observe(x, matched, t0.Add(time.Duration(ev.min)*time.Minute))
				if (len(fired) > 0) != ev.wantFired {
					t.Fatalf("event %d: fired %+v, want fired=%v", i, fired, ev.wantFired)
				}
				if ev.wantFired && strings.Join(fired[0].Group, ",") != ev.wantFiredGroups {
					t.Fatalf("event %d: group %v, want %s", i, fired[0].Group, ev.wantFiredGroups)
				}
			}
		})
	}
}

func TestCorrelationOnlyAndSkips(t *testing.T) {
	e := compileOne(t, strings.ReplaceAll(correlation("type: event_count\nrules: [failed_logon]\ngroup-by: [User]\ntimespan: 5m\ncondition:\n  gte: 2"), "category: auth", "category: proc"), Options{})
	for _, r := range e.Rules() {
		if want := r.Name == "failed_logon"; r.CorrelationOnly != want {
			t.Errorf("rule %s: CorrelationOnly %v, want %v", r.Name, r.CorrelationOnly, want)
		}
	}
	cases := map[string]string{
		"type: event_count\nrules: [failed_logon]\ntimespan: 5m\ncondition:\n  lt: 2":                         "unsupported correlation condition",
		"type: event_count\nrules: [nope]\ntimespan: 5m\ncondition:\n  gte: 2":                                "correlation refers to a rule that did not load",
		"type: event_count\nrules: [failed_logon]\ntimespan: 5x\ncondition:\n  gte: 2":                        "invalid correlation",
		"type: sequence\nrules: [failed_logon]\ntimespan: 5m":                                                 "unsupported correlation type",
		"type: value_count\nrules: [failed_logon]\ntimespan: 5m\ncondition:\n  gte: 2":                        "invalid correlation",
		"type: event_count\nrules: [failed_logon]\ngroup-by: [unmappedX]\ntimespan: 5m\ncondition:\n  gte: 2": "field not mapped",
	}
	for body, reason := range cases {
		e := compileOne(t, strings.ReplaceAll(correlation(body), "category: auth", "category: proc"), Options{})
		if len(e.Skipped()) != 1 || e.Skipped()[0].Reason != reason {
			t.Errorf("%q: skipped %+v, want reason %q", body, e.Skipped(), reason)
		}
	}
}

// TestCorrelatorBoundedMemory: many groups never exceed the limit.
func TestCorrelatorBoundedMemory(t *testing.T) {
	e := compileOne(t, strings.ReplaceAll(correlation("type: event_count\nrules: [failed_logon]\ngroup-by: [User]\ntimespan: 1h\ncondition:\n  gte: 5"), "category: auth", "category: proc"), Options{})
	x := e.NewEvaluator()
	cr := e.NewCorrelator(50)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 5000; i++ {
		m := x.Match(mapEvent{table: "proc", fields: map[string]any{"Outcome": "failure", "User": fmt.Sprint("u", i)}}, nil)
		cr.Observe(x, m, t0.Add(time.Duration(i)*time.Second))
		if cr.Groups() > 50 {
			t.Fatalf("%d groups after %d events", cr.Groups(), i+1)
		}
	}
}

// TestCorrelatorSnapshot: a window open before a restart still fires
// after it when the state is saved and restored.
func TestCorrelatorSnapshot(t *testing.T) {
	src := strings.ReplaceAll(correlation("type: event_count\nrules: [failed_logon]\ngroup-by: [User]\ntimespan: 10m\ncondition:\n  gte: 3"), "category: auth", "category: proc")
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := mapEvent{table: "proc", fields: map[string]any{"Outcome": "failure", "User": "a"}}

	e := compileOne(t, src, Options{})
	x, cr := e.NewEvaluator(), e.NewCorrelator(0)
	for i := 0; i < 2; i++ {
		if f := cr.Observe(x, x.Match(ev, nil), t0.Add(time.Duration(i)*time.Minute)); len(f) != 0 {
			t.Fatal("fired before the threshold")
		}
	}
	saved, err := json.Marshal(cr.Snapshot())
	if err != nil {
		t.Fatal(err)
	}

	// "Restart": new engine, new correlator, restored state.
	e2 := compileOne(t, src, Options{})
	x2, cr2 := e2.NewEvaluator(), e2.NewCorrelator(0)
	var st CorrelatorState
	if err := json.Unmarshal(saved, &st); err != nil {
		t.Fatal(err)
	}
	if n := cr2.Restore(st); n != 1 {
		t.Fatalf("restored %d groups, want 1", n)
	}
	if f := cr2.Observe(x2, x2.Match(ev, nil), t0.Add(2*time.Minute)); len(f) != 1 || f[0].Count != 3 {
		t.Fatalf("after restore: fired %+v, want one firing with 3 events", f)
	}

	// A state for another shape of the rule is ignored.
	other := strings.ReplaceAll(src, "group-by: [User]", "group-by: [User, Host]")
	e3 := compileOne(t, other, Options{})
	if n := e3.NewCorrelator(0).Restore(st); n != 0 {
		t.Fatalf("restored %d groups into a changed rule", n)
	}
}
