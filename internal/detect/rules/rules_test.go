package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/defender-intake/defender-intake/internal/detect/fieldmap"
	"github.com/defender-intake/defender-intake/internal/detect/sigma"
)

const expandRule = `title: Admin logon tool
id: 33333333-0000-4000-8000-000000000001
logsource:
  product: windows
  category: process_creation
detection:
  sel:
    User|expand: '%admin_users%'
  condition: sel
level: low
`

func TestLoadDirsAndPlaceholders(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	os.MkdirAll(sub, 0o700)
	os.WriteFile(filepath.Join(sub, "expand.yml"), []byte(expandRule), 0o600)
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("not a rule"), 0o600)
	ph := filepath.Join(t.TempDir(), "placeholders.yaml")
	os.WriteFile(ph, []byte("admin_users:\n  - 'corp\\adm-*'\n  - 'corp\\administrator'\n"), 0o600)

	cases := []struct {
		name    string
		cfg     Config
		loaded  int
		skipped string
		err     string
	}{
		{"without placeholders the rule is skipped", Config{Dirs: []string{dir}, NoBuiltin: true}, 0, "placeholder not defined", ""},
		{"placeholder file", Config{Dirs: []string{dir}, NoBuiltin: true, PlaceholdersFile: ph}, 1, "", ""},
		{"inline placeholders", Config{Dirs: []string{dir}, NoBuiltin: true, Placeholders: map[string][]string{"admin_users": {"x"}}}, 1, "", ""},
		{"builtin rules load", Config{}, len(Builtin()), "", ""},
		{"missing dir", Config{Dirs: []string{filepath.Join(dir, "nope")}}, 0, "", "reading rules"},
		{"bad placeholder file", Config{Dirs: []string{dir}, PlaceholdersFile: filepath.Join(sub, "expand.yml")}, 0, "", "placeholders"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, _, err := Load(c.cfg)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(e.Rules()) != c.loaded {
				t.Fatalf("loaded %d, want %d (skipped %+v)", len(e.Rules()), c.loaded, e.Skipped())
			}
			if c.skipped != "" && (len(e.Skipped()) != 1 || e.Skipped()[0].Reason != c.skipped) {
				t.Fatalf("skipped %+v, want reason %q", e.Skipped(), c.skipped)
			}
		})
	}
}

func TestBuiltinRulesLoad(t *testing.T) {
	e, _, err := Load(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Skipped()) != 0 || len(e.Rules()) < 3 {
		t.Fatalf("built-in: %d loaded, skipped %+v", len(e.Rules()), e.Skipped())
	}
	for _, r := range e.Rules() {
		if r.Author == "" || r.ID == "" || len(r.GroupBy) == 0 || r.LevelField == "" {
			t.Errorf("built-in rule %s lacks metadata: %+v", r.Path, r)
		}
	}
}

// TestPlatformSeparation: Defender's process table mixes Windows, Linux
// and macOS; a rule for one product must not run on another's records.
func TestPlatformSeparation(t *testing.T) {
	rule := func(id, product string) sigma.Source {
		return sigma.Source{Path: id + ".yml", Data: []byte("title: " + id + "\nid: " + id +
			"\nlogsource:\n  product: " + product + "\n  category: process_creation\ndetection:\n  sel:\n    CommandLine|contains: whoami\n  condition: sel\nlevel: low\n")}
	}
	m := fieldmap.Default()
	e, err := sigma.Compile([]sigma.Source{rule("win", "windows"), rule("lnx", "linux"), rule("mac", "macos")}, sigma.Options{Mapper: m})
	if err != nil || len(e.Rules()) != 3 {
		t.Fatalf("compile: %v %+v", err, e.Skipped())
	}
	cases := []struct {
		props string
		want  string
	}{
		{`{"FolderPath":"C:\\Windows\\System32\\whoami.exe","ProcessCommandLine":"whoami"}`, "win"},
		{`{"FolderPath":"/usr/bin/whoami","ProcessCommandLine":"whoami"}`, "lnx,mac"},
		{`{"FolderPath":null,"InitiatingProcessFolderPath":"/bin/bash","ProcessCommandLine":"whoami"}`, "lnx,mac"},
		{`{"ProcessCommandLine":"whoami"}`, "win,lnx,mac"}, // platform unknown: every product's rules
		// After the device's DeviceInfo record, Linux and macOS are told apart.
		{`{"DeviceId":"m1","FolderPath":"/usr/bin/whoami","ProcessCommandLine":"whoami"}`, "mac"},
	}
	x := e.NewEvaluator()
	rec := m.NewRecord()
	for i, c := range cases {
		if i == len(cases)-1 {
			if err := rec.Reset([]byte(`{"category":"AdvancedHunting-DeviceInfo","properties":{"DeviceId":"m1","OSPlatform":"macOS"}}`), nil); err != nil {
				t.Fatal(err)
			}
		}
		raw := `{"category":"AdvancedHunting-DeviceProcessEvents","properties":` + c.props + `}`
		if err := rec.Reset([]byte(raw), nil); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range x.Match(rec, nil) {
			ids = append(ids, r.ID)
		}
		if got := strings.Join(ids, ","); got != c.want {
			t.Errorf("%s: matched %q, want %q", c.props, got, c.want)
		}
	}
}
