package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testRuleWhoami = `title: Whoami privileges
id: 0a1b2c3d-0000-4000-8000-000000000001
author: Test Author
logsource:
  product: windows
  category: process_creation
detection:
  sel:
    Image|endswith: '\whoami.exe'
    CommandLine|contains: '/priv'
  condition: sel
level: low
`

const testRuleUnmapped = `title: Uses a field Defender lacks
id: 0a1b2c3d-0000-4000-8000-000000000002
logsource:
  product: windows
  category: process_creation
detection:
  sel:
    NoSuchSysmonField: x
  condition: sel
level: low
`

func writeRules(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRulesCheck(t *testing.T) {
	dir := writeRules(t, map[string]string{"a.yml": testRuleWhoami, "b.yaml": testRuleUnmapped, "notes.txt": "ignored"})
	cases := []struct {
		args     []string
		code     int
		contains []string
	}{
		{[]string{"check", dir}, 0, []string{"loaded 1 rule(s), skipped 1", "b.yaml: field not mapped: NoSuchSysmonField", "1 field not mapped"}},
		{[]string{"check", "--strict", dir}, 1, []string{"skipped 1"}},
		{[]string{"check"}, 2, nil},
		{[]string{"check", filepath.Join(dir, "missing")}, 2, nil},
		{[]string{"frobnicate"}, 2, nil},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := rulesCmd(c.args, nil, &out, &errb)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d (stderr %s)", c.args, code, c.code, errb.String())
		}
		for _, s := range c.contains {
			if !strings.Contains(out.String(), s) {
				t.Errorf("%v: output lacks %q:\n%s", c.args, s, out.String())
			}
		}
	}
}

func TestRulesTest(t *testing.T) {
	dir := writeRules(t, map[string]string{"a.yml": testRuleWhoami})
	input := `{"records":[
{"time":"2025-03-10T11:00:00Z","category":"AdvancedHunting-DeviceProcessEvents","properties":{"DeviceName":"ws1","ActionType":"ProcessCreated","FolderPath":"C:\\Windows\\System32\\whoami.exe","ProcessCommandLine":"whoami /priv"}},
{"time":"2025-03-10T11:00:01Z","category":"AdvancedHunting-DeviceProcessEvents","properties":{"DeviceName":"ws1","ActionType":"ProcessCreated","FolderPath":"C:\\Windows\\System32\\whoami.exe","ProcessCommandLine":"whoami"}}
]}
{"time":"2025-03-10T11:00:02Z","category":"AdvancedHunting-DeviceProcessEvents","properties":{"FolderPath":"C:\\Windows\\System32\\WHOAMI.EXE","ProcessCommandLine":"whoami.exe /PRIV"}}
`
	file := filepath.Join(t.TempDir(), "records.json")
	if err := os.WriteFile(file, []byte(input), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := rulesCmd([]string{"test", "--rules", dir, "--no-builtin", file}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d match lines, want 2:\n%s", len(lines), out.String())
	}
	wantLines := []int{2, 5}
	wantRecords := []int{1, 3}
	for i, l := range lines {
		var m matchLine
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if m.RuleID != "0a1b2c3d-0000-4000-8000-000000000001" || m.Title != "Whoami privileges" || m.Level != "low" ||
			m.Author != "Test Author" || m.File != file || m.Line != wantLines[i] || m.Record != wantRecords[i] {
			t.Errorf("line %d: %+v", i, m)
		}
	}

	// Defender's own alerts carry Defender's severity and title.
	out.Reset()
	errb.Reset()
	alert := `{"time":"2025-03-10T08:00:00Z","category":"AdvancedHunting-AlertInfo","properties":{"AlertId":"da1","Title":"Ransomware behavior detected","ServiceSource":"Microsoft Defender for Endpoint","Severity":"High"}}`
	if code := rulesCmd([]string{"test", "-"}, strings.NewReader(alert), &out, &errb); code != 0 {
		t.Fatalf("built-in rules: exit %d: %s", code, errb.String())
	}
	var m matchLine
	if err := json.Unmarshal(out.Bytes(), &m); err != nil || m.Title != "Microsoft Defender XDR alert" || m.Level != "high" || m.AlertTitle != "Ransomware behavior detected" {
		t.Fatalf("defender alert line %q (%v)", out.String(), err)
	}

	// Correlation rules fire on the record that meets their condition.
	corrDir := writeRules(t, map[string]string{"c.yml": testRuleWhoami + `---
title: Whoami privileges twice
id: 0a1b2c3d-0000-4000-8000-000000000003
correlation:
  type: event_count
  rules: [0a1b2c3d-0000-4000-8000-000000000001]
  group-by: [properties.DeviceName]
  timespan: 5m
  condition:
    gte: 2
level: high
`})
	out.Reset()
	errb.Reset()
	twice := `{"time":"2025-03-10T11:00:00Z","category":"AdvancedHunting-DeviceProcessEvents","properties":{"DeviceName":"ws1","FolderPath":"C:\\Windows\\System32\\whoami.exe","ProcessCommandLine":"whoami /priv"}}
{"time":"2025-03-10T11:01:00Z","category":"AdvancedHunting-DeviceProcessEvents","properties":{"DeviceName":"ws1","FolderPath":"C:\\Windows\\System32\\whoami.exe","ProcessCommandLine":"whoami /priv"}}
`
	if code := rulesCmd([]string{"test", "--no-builtin", "--rules", corrDir, "-"}, strings.NewReader(twice), &out, &errb); code != 0 {
		t.Fatalf("correlation: exit %d: %s", code, errb.String())
	}
	lines = strings.Split(strings.TrimSpace(out.String()), "\n")
	var last matchLine
	if len(lines) != 3 || json.Unmarshal([]byte(lines[2]), &last) != nil || !last.Correlation || last.Line != 2 || last.Count != 2 || last.Level != "high" {
		t.Fatalf("correlation output:\n%s", out.String())
	}

	// Unusable input is reported with its position and the exit code.
	out.Reset()
	errb.Reset()
	dlPath := filepath.Join(t.TempDir(), "dead.ndjson")
	code = rulesCmd([]string{"test", "--rules", dir, "--dead-letter", dlPath, "-"}, strings.NewReader("[1, 2]\nnot json\n"), &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "stdin:") {
		t.Fatalf("bad input: exit %d, stderr %q", code, errb.String())
	}
	dead, err := os.ReadFile(dlPath)
	if err != nil || !strings.Contains(string(dead), "not json") {
		t.Fatalf("dead letter file %q (%v) lacks the raw input", dead, err)
	}
}
