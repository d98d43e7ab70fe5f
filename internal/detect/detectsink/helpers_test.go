package detectsink

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
	"github.com/defender-intake/defender-intake/internal/normalize"
	"github.com/defender-intake/defender-intake/internal/sink"
)

// procRecord is a raw DeviceProcessEvents record on host at time t.
func procRecord(host, cmdline string, t time.Time) string {
	ts := t.UTC().Format(time.RFC3339Nano)
	return fmt.Sprintf(`{"time":%q,"category":"AdvancedHunting-DeviceProcessEvents","properties":{"Timestamp":%q,"DeviceName":%q,"ActionType":"ProcessCreated","FolderPath":"C:\\Windows\\System32\\cmd.exe","FileName":"cmd.exe","ProcessCommandLine":%q,"AccountDomain":"corp","AccountName":"jdoe","InitiatingProcessFolderPath":"c:\\windows\\explorer.exe"}}`, ts, ts, host, cmdline)
}

func emailRecord(t time.Time) string {
	ts := t.UTC().Format(time.RFC3339Nano)
	return fmt.Sprintf(`{"time":%q,"category":"AdvancedHunting-EmailEvents","properties":{"Timestamp":%q,"Subject":"whoami","SenderFromAddress":"a@example.com","RecipientEmailAddress":"b@example.com"}}`, ts, ts)
}

// docs normalizes raw records with the real normalizer, as the pipeline
// does before fanning documents out to sinks (with the raw record beside
// each document).
func docs(t *testing.T, records ...string) []sink.Doc {
	t.Helper()
	n := normalize.New(normalize.Options{})
	var out []sink.Doc
	for _, r := range records {
		doc, meta, err := n.Append(nil, []byte(r))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sink.Doc{JSON: doc, Dataset: meta.Dataset, Timestamp: meta.Timestamp, Raw: []byte(r)})
	}
	return out
}

func writeRule(t testing.TB, dir, name, body string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o640); err != nil {
		t.Fatal(err)
	}
}

// config is a detection section with rules from ruleDir only (no
// built-ins, so the expected alerts are exactly the test's).
func testConfig(dir, ruleDir string) Config {
	c := *DefaultConfig()
	c.Rules.Dirs = []string{ruleDir}
	c.Rules.NoBuiltin = true
	c.File = filepath.Join(dir, "alerts", "alerts.ndjson")
	c.Store = filepath.Join(dir, "store")
	return c
}

func openSink(t *testing.T, cfg Config) *Sink {
	t.Helper()
	s, err := Open("detect", cfg, sink.Env{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func write(t *testing.T, s *Sink, d []sink.Doc) {
	t.Helper()
	if err := s.Write(context.Background(), d); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// current reads the alert file: the last state of each alert, by title.
func current(t *testing.T, path string) map[string]alerts.Alert {
	t.Helper()
	as, err := ReadAlerts(path, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]alerts.Alert{}
	for _, a := range as {
		key := a.Title + "@" + a.Host
		if _, dup := out[key]; dup {
			t.Errorf("two alerts for %s", key)
		}
		out[key] = a
	}
	return out
}

const whoamiRule = `title: Whoami
id: 0a1b2c3d-0000-4000-8000-000000000001
author: Test Author
tags: [attack.discovery, attack.t1033]
logsource: {product: windows, category: process_creation}
detection:
  sel: {CommandLine|contains: whoami}
  condition: sel
level: medium
`

// ecsRule reads the normalized document's ECS fields.
const ecsRule = `title: Net user on a server
id: 0a1b2c3d-0000-4000-8000-000000000002
author: Test Author
logsource: {product: microsoft_defender_xdr}
detection:
  sel:
    process.command_line|contains: 'net user'
    host.name|startswith: srv
  condition: sel
level: high
`

const netUseRules = `title: Net use
id: 0a1b2c3d-0000-4000-8000-000000000003
name: net_use
logsource: {product: windows, category: process_creation}
detection: {sel: {CommandLine|contains: 'net use'}, condition: sel}
level: low
---
title: Net use three times
id: 0a1b2c3d-0000-4000-8000-000000000004
author: Test Author
correlation:
  type: event_count
  rules: [net_use]
  group-by: [User]
  timespan: 1h
  condition: {gte: 3}
level: high
`
