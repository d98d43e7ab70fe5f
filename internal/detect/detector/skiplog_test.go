package detector

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSkippedRulesOneSummaryLine: a rule directory where most rules are
// skipped (here: a Perl-only regex construct) logs one INFO line with the
// counts and the `rules check` command that lists the reasons, not a
// warning per rule; the per-rule reasons are at DEBUG.
func TestSkippedRulesOneSummaryLine(t *testing.T) {
	dir := t.TempDir()
	const skipped = 7
	for i := range skipped {
		rule := strings.Replace(whoamiRule, "id: 11111111-2222-3333-4444-555555555555", fmt.Sprintf("id: 11111111-2222-3333-4444-%012d", i), 1)
		rule = strings.Replace(rule, "CommandLine|windash|contains: ' -all'", "CommandLine|re: '(?=x)all'", 1)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("skip%d.yml", i)), []byte(rule), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "whoami.yml"), []byte(whoamiRule), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		level             slog.Level
		wantWarn, wantDbg int
	}{
		{slog.LevelInfo, 0, 0},
		{slog.LevelDebug, 0, skipped},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		cfg := Defaults()
		cfg.Rules.Dirs = []string{dir}
		s, err := New(cfg, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: c.level})))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ReloadRules(); err != nil {
			t.Fatal(err)
		}
		log := buf.String()
		if n := strings.Count(log, "level=WARN"); n != c.wantWarn {
			t.Errorf("level %v: %d WARN lines, want %d:\n%s", c.level, n, c.wantWarn, log)
		}
		if n := strings.Count(log, `msg="rule skipped"`); n != 2*c.wantDbg { // load and reload
			t.Errorf("level %v: %d per-rule lines, want %d:\n%s", c.level, n, 2*c.wantDbg, log)
		}
		for _, msg := range []string{`msg="detection rules loaded"`, `msg="detection rules reloaded"`} {
			var line string
			for _, l := range strings.Split(log, "\n") {
				if strings.Contains(l, msg) {
					line = l
				}
			}
			if !strings.Contains(line, fmt.Sprintf("skipped=%d", skipped)) || !strings.Contains(line, "defender-intake rules check "+dir) {
				t.Errorf("level %v: summary line %q lacks the skip count or the rules check command", c.level, line)
			}
		}
	}
}
