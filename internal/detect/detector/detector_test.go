package detector

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
	"github.com/defender-intake/defender-intake/internal/detect/rules"
	"github.com/defender-intake/defender-intake/internal/detect/sigma"
	"github.com/defender-intake/defender-intake/internal/normalize"
)

type memorySink struct {
	writes []alerts.Alert
	change []alerts.Change
}

func (s *memorySink) WriteAlert(_ context.Context, a alerts.Alert, c alerts.Change) error {
	s.writes = append(s.writes, a)
	s.change = append(s.change, c)
	return nil
}

const (
	dlpInfo     = `{"time":"2025-03-10T08:00:00Z","category":"AdvancedHunting-AlertInfo","properties":{"Timestamp":"2025-03-10T08:00:00Z","AlertId":"dl1234","Title":"DLP policy match for document Payroll.xlsx","ServiceSource":"Microsoft Data Loss Prevention","DetectionSource":"Microsoft Data Loss Prevention","Category":"Exfiltration","Severity":"High","AttackTechniques":""}}`
	dlpEvidence = `{"time":"2025-03-10T08:05:00Z","category":"AdvancedHunting-AlertEvidence","properties":{"Timestamp":"2025-03-10T08:05:00Z","AlertId":"dl1234","Title":"DLP policy match for document Payroll.xlsx","ServiceSource":"Microsoft Data Loss Prevention","EntityType":"User","EvidenceRole":"Impacted","AccountName":"jdoe","AccountDomain":"corp","Severity":"High","Categories":"[\"Exfiltration\"]"}}`
	idpInfo     = `{"time":"2025-03-10T09:00:00Z","category":"AdvancedHunting-AlertInfo","properties":{"Timestamp":"2025-03-10T09:00:00Z","AlertId":"ip777","Title":"Anonymous IP address","ServiceSource":"AAD Identity Protection","Category":"InitialAccess","Severity":"Medium"}}`
	mdeInfo     = `{"time":"2025-03-10T10:00:00Z","category":"AdvancedHunting-AlertInfo","properties":{"Timestamp":"2025-03-10T10:00:00Z","AlertId":"da555","Title":"Suspicious PowerShell","ServiceSource":"Microsoft Defender for Endpoint","Category":"Execution","Severity":"Low"}}`
	proc        = `{"time":"2025-03-10T11:00:00Z","category":"AdvancedHunting-DeviceProcessEvents","properties":{"Timestamp":"2025-03-10T11:00:00Z","DeviceName":"ws1.corp","ActionType":"ProcessCreated","FolderPath":"C:\\Windows\\System32\\whoami.exe","FileName":"whoami.exe","ProcessCommandLine":"whoami /all","AccountDomain":"corp","AccountName":"jdoe","InitiatingProcessFolderPath":"c:\\windows\\system32\\cmd.exe"}}`
)

const whoamiRule = `title: Whoami all
id: 11111111-2222-3333-4444-555555555555
author: Test Author
tags: [attack.discovery, attack.t1033, detection.threat-hunting]
logsource:
  product: windows
  category: process_creation
detection:
  sel:
    Image|endswith: '\whoami.exe'
    CommandLine|windash|contains: ' -all'
  condition: sel
level: medium
`

// TestDefenderAlertsAndSigma runs normalized records through the built-in
// rules and a Sigma rule: Defender alerts group by alert id with
// Defender's severity and title, evidence joins its alert.
func TestDefenderAlertsAndSigma(t *testing.T) {
	eng, m, err := rules.Load(rules.Config{})
	if err != nil {
		t.Fatal(err)
	}
	user, err := sigma.Compile(append(rules.Builtin(), sigma.Source{Path: "whoami.yml", Data: []byte(whoamiRule)}), sigma.Options{Mapper: m})
	if err != nil {
		t.Fatal(err)
	}
	if len(user.Skipped()) > 0 || len(eng.Skipped()) > 0 {
		t.Fatalf("skipped: %+v %+v", user.Skipped(), eng.Skipped())
	}
	sink := &memorySink{}
	s := NewShared(user, m, alerts.Config{}, sink)
	w := s.NewWorker()
	n := normalize.New(normalize.Options{})
	for i, rec := range []string{dlpInfo, dlpEvidence, idpInfo, mdeInfo, proc} {
		doc, meta, err := n.Append(nil, []byte(rec))
		if err != nil {
			t.Fatal(err)
		}
		matched, err := w.Process(context.Background(), []byte(rec), doc, "ev"+string(rune('0'+i)), meta.Timestamp)
		if err != nil {
			t.Fatal(err)
		}
		if len(matched) != 1 {
			t.Fatalf("record %d matched %d rules, want 1\ndoc: %s", i, len(matched), doc)
		}
	}
	want := []struct {
		change                          alerts.Change
		title, level, rule, group, host string
		count                           int
	}{
		{alerts.Created, "DLP policy match for document Payroll.xlsx", "high", "Microsoft Defender XDR Data Loss Prevention alert", "dl1234", "", 1},
		{alerts.Updated, "DLP policy match for document Payroll.xlsx", "high", "Microsoft Defender XDR Data Loss Prevention alert", "dl1234", "", 2},
		{alerts.Created, "Anonymous IP address", "medium", "Microsoft Defender XDR Entra ID Protection alert", "ip777", "", 1},
		{alerts.Created, "Suspicious PowerShell", "low", "Microsoft Defender XDR alert", "da555", "", 1},
		{alerts.Created, "Whoami all", "medium", "Whoami all", "", "ws1.corp", 1},
	}
	if len(sink.writes) != len(want) {
		t.Fatalf("%d alert writes, want %d", len(sink.writes), len(want))
	}
	for i, wnt := range want {
		a := sink.writes[i]
		if sink.change[i] != wnt.change || a.Title != wnt.title || a.Level != wnt.level || a.RuleTitle != wnt.rule ||
			a.GroupKey != wnt.group || a.Host != wnt.host || a.Count != wnt.count {
			t.Errorf("write %d: %v %+v\nwant %+v", i, sink.change[i], a, wnt)
		}
	}
	last := sink.writes[4]
	if last.Author != "Test Author" || strings.Join(last.Tags, ",") != "attack.discovery,attack.t1033" || last.User != "jdoe" {
		t.Errorf("sigma alert metadata: %+v", last)
	}
	for i, svc := range []string{"Microsoft Data Loss Prevention", "Microsoft Data Loss Prevention", "AAD Identity Protection", "Microsoft Defender for Endpoint", ""} {
		if sink.writes[i].Service != svc {
			t.Errorf("write %d: service %q, want %q", i, sink.writes[i].Service, svc)
		}
	}
	if sink.writes[1].ID != sink.writes[0].ID || len(sink.writes[1].EventIDs) != 2 {
		t.Errorf("evidence did not join its alert: %+v", sink.writes[1])
	}
	if !sink.writes[0].FirstSeen.Equal(time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("first seen %v", sink.writes[0].FirstSeen)
	}
}

func TestBadRecord(t *testing.T) {
	eng, m, err := rules.Load(rules.Config{})
	if err != nil {
		t.Fatal(err)
	}
	w := NewShared(eng, m, alerts.Config{}).NewWorker()
	for _, bad := range []string{"", "[1,2]", "{", `"x"`} {
		if _, err := w.Match([]byte(bad), nil); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

const whoamiCorrelation = `title: Whoami
id: 22222222-0000-4000-8000-000000000001
name: whoami
logsource:
  product: windows
  category: process_creation
detection:
  sel:
    Image|endswith: '\whoami.exe'
  condition: sel
level: low
---
title: Repeated whoami by one user
id: 22222222-0000-4000-8000-000000000002
author: Test Author
correlation:
  type: event_count
  rules: [whoami]
  group-by: [User]
  timespan: 10m
  condition:
    gte: 2
level: high
`

// TestCorrelationAlerts: the base rule only feeds the correlation (no
// alert of its own); the correlation raises one alert per group.
func TestCorrelationAlerts(t *testing.T) {
	_, m, err := rules.Load(rules.Config{NoBuiltin: true})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := sigma.Compile([]sigma.Source{{Path: "c.yml", Data: []byte(whoamiCorrelation)}}, sigma.Options{Mapper: m})
	if err != nil || len(eng.Skipped()) > 0 || len(eng.Correlations()) != 1 {
		t.Fatalf("compile: %v %+v", err, eng.Skipped())
	}
	sink := &memorySink{}
	w := NewShared(eng, m, alerts.Config{}, sink).NewWorker()
	base := time.Date(2025, 3, 10, 11, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		if _, err := w.Process(context.Background(), []byte(proc), nil, "e", base.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if len(sink.writes) != 1 {
		t.Fatalf("%d alert writes, want 1 (correlation fired once, base rule silent): %+v", len(sink.writes), sink.writes)
	}
	// The third event opened a new window; it survives a rule reload and
	// a save/restore, so one more event fires again.
	s := w.s
	s.Reload(eng)
	saved := s.CorrelationState()
	s2 := NewShared(eng, m, alerts.Config{}, sink)
	if n := s2.RestoreCorrelations(saved); n != 1 {
		t.Fatalf("restored %d correlation groups, want 1", n)
	}
	if _, err := s2.NewWorker().Process(context.Background(), []byte(proc), nil, "e", base.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if len(sink.writes) != 2 || sink.writes[1].RuleTitle != "Repeated whoami by one user" {
		t.Fatalf("after restore: %d writes %+v", len(sink.writes), sink.writes)
	}
	a := sink.writes[0]
	if a.RuleTitle != "Repeated whoami by one user" || a.Level != "high" || a.GroupKey != `corp\jdoe` || a.Host != "ws1.corp" || a.Author != "Test Author" {
		t.Fatalf("alert %+v", a)
	}
}

func TestReload(t *testing.T) {
	_, m, err := rules.Load(rules.Config{NoBuiltin: true})
	if err != nil {
		t.Fatal(err)
	}
	empty, err := sigma.Compile(nil, sigma.Options{Mapper: m})
	if err != nil {
		t.Fatal(err)
	}
	s := NewShared(empty, m, alerts.Config{})
	w := s.NewWorker()
	if got, _ := w.Match([]byte(proc), nil); len(got) != 0 {
		t.Fatalf("empty engine matched %d", len(got))
	}
	withRule, err := sigma.Compile([]sigma.Source{{Path: "w.yml", Data: []byte(whoamiRule)}}, sigma.Options{Mapper: m})
	if err != nil {
		t.Fatal(err)
	}
	s.Reload(withRule)
	if got, _ := w.Match([]byte(proc), nil); len(got) != 1 {
		t.Fatalf("after reload matched %d, want 1", len(got))
	}
}

// TestConcurrentWorkers: workers share the engine, the grouping and the
// sinks (run with -race).
func TestConcurrentWorkers(t *testing.T) {
	_, m, err := rules.Load(rules.Config{})
	if err != nil {
		t.Fatal(err)
	}
	withRule, err := sigma.Compile(append(rules.Builtin(), sigma.Source{Path: "w.yml", Data: []byte(whoamiRule)}), sigma.Options{Mapper: m})
	if err != nil {
		t.Fatal(err)
	}
	sink := &memorySink{}
	s := NewShared(withRule, m, alerts.Config{}, sink)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := s.NewWorker()
			n := normalize.New(normalize.Options{})
			for i := 0; i < 50; i++ {
				for _, rec := range []string{proc, dlpInfo, mdeInfo} {
					doc, meta, err := n.Append(nil, []byte(rec))
					if err != nil {
						t.Error(err)
						return
					}
					if _, err := w.Process(context.Background(), []byte(rec), doc, "e", meta.Timestamp); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	// 3 distinct alerts (whoami on ws1, DLP alert, MDE alert), 600 writes.
	ids := map[string]int{}
	for _, a := range sink.writes {
		ids[a.ID] = max(ids[a.ID], a.Count)
	}
	if len(sink.writes) != 600 || len(ids) != 3 {
		t.Fatalf("%d writes, %d alerts", len(sink.writes), len(ids))
	}
	for id, c := range ids {
		if c != 200 {
			t.Errorf("alert %s count %d, want 200", id, c)
		}
	}
}

func TestSkip(t *testing.T) {
	eng, m, err := rules.Load(rules.Config{})
	if err != nil {
		t.Fatal(err)
	}
	w := NewShared(eng, m, alerts.Config{}).NewWorker()
	for cat, want := range map[string]bool{
		"AdvancedHunting-AlertInfo":           false, // built-in Defender alert rules
		"AdvancedHunting-AlertEvidence":       false,
		"AdvancedHunting-EmailEvents":         true,
		"AdvancedHunting-DeviceProcessEvents": true, // no Sigma rules loaded
	} {
		if got := w.Skip(cat); got != want {
			t.Errorf("Skip(%s) = %v, want %v", cat, got, want)
		}
	}
}
