package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/source"
)

// Every error names the line it is about: YAML syntax errors the line
// that breaks (yaml.v3 alone says one line early), and validation errors
// the line of the key.
func TestErrorsNameTheirLine(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"key outdented in a list item", "sources:\n  - type: configtest\n    address: x\n   bad: 1\nsinks: []\n", "cfg.yaml:4: YAML syntax"},
		{"list item under a mapping", "log:\n  level: info\n- x\n", "cfg.yaml:3: YAML syntax"},
		{"key indented too little", "pipeline:\n  workers: 1\n queue_batches: 2\n", "cfg.yaml:3: YAML syntax"},
		{"unclosed flow sequence", "server:\n  listen: 127.0.0.1:1\nsinks: [a, b\n", "cfg.yaml:3: YAML syntax: did not find expected ',' or ']'"},
		{"unclosed flow mapping on line 1", "sinks: {a: 1\n", "cfg.yaml:1: YAML syntax"},
		{"tab (scanner error, already right)", "log:\n\tlevel: info\n", "cfg.yaml:2: YAML syntax"},
		{"bad log level", base + "log:\n  format: text\n  level: verbose\n", "cfg.yaml:12: log.level: \"verbose\" is not one of"},
		{"bad log format", base + "log:\n  format: xml\n", "cfg.yaml:11: log.format"},
		{"bad pipeline key", base + "pipeline:\n  workers: 2\n  queue_batches: 0\n", "cfg.yaml:12: pipeline.queue_batches: must be >= 1"},
		{"retry_max below retry_initial", base + "pipeline:\n  retry_initial: 1s\n  retry_max: 10ms\n", "cfg.yaml:12: pipeline.retry_max"},
		{"empty sinks", "sources:\n  - {type: configtest, address: x}\nsinks: []\n", "cfg.yaml:3: sinks: at least one is required"},
		{"no sinks key", "\nsources:\n  - {type: configtest, address: x}\n", "cfg.yaml:2: sinks: at least one is required (the file has no sinks: key)"},
		{"dead letter path", base + "dead_letter:\n  path: \"\"\n", "cfg.yaml:11: dead_letter.path: required"},
		{"a listen address that is a connection string", base + "server:\n  listen: 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKey=x'\n", "cfg.yaml:11: server.listen: host: not a host name or IP address"},
		{"a listen address without its port", base + "server:\n  listen: '127.0.0.1:'\n", "cfg.yaml:11: server.listen: port: missing"},
		{"a second document is not dropped", base + "---\nlog:\n  level: debug\n", "cfg.yaml:11: a second YAML document"},
		{"a broken second document", base + "---\nlog: [\n", "cfg.yaml:12: YAML syntax"},
		{"a byte that is not UTF-8", base + "log:\n  level: ab\xc3\n", "cfg.yaml:11: not UTF-8 text (byte 0xc3 at column 12)"},
		{"a wrong type names file:line", base + "pipeline:\n  workers: many\n", "cfg.yaml:11: cannot unmarshal !!str `many` into int"},
		{"a duplicate key names file:line", base + "log:\n  level: info\n  level: debug\n", "cfg.yaml:12: mapping key \"level\" already defined at line 11"},
		{"an unknown key brought by a merge", "x: &d {max_size_mb: 5, bogus: 1}\nsources:\n  - {type: configtest, address: x}\nsinks:\n  - {type: file, path: /tmp/x, <<: *d}\n", "cfg.yaml:1: unknown key \"x\""},
		{"a merge of a scalar", "sources:\n  - {type: configtest, address: x, <<: 3}\nsinks:\n  - {type: file, path: /tmp/x}\n", "cfg.yaml:2: a merge key (<<) takes a mapping"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("cfg.yaml", []byte(tc.yaml))
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// Two components that would write the same file or directory are refused,
// defaults included.
func TestSamePathWrittenTwice(t *testing.T) {
	tests := []struct {
		name, sinks, extra, want string
	}{
		{"two file sinks", "  - {name: a, type: file, path: /tmp/di/x.ndjson}\n  - {name: b, type: file, path: /tmp/di/./x.ndjson}\n", "",
			`cfg.yaml:8: sink "b" (file) writes /tmp/di/./x.ndjson, as sink "a" (file) (cfg.yaml:7) does`},
		{"file sink on the dead-letter file", "  - {name: a, type: file, path: data/dead-letter.ndjson}\n", "",
			`sink "a" (file) writes data/dead-letter.ndjson, as dead_letter.path (cfg.yaml) does`},
		{"file sink on a set dead-letter file", "  - {name: a, type: file, path: /tmp/dl.ndjson}\n", "dead_letter:\n  path: /tmp/dl.ndjson\n",
			`as dead_letter.path (cfg.yaml:9) does`},
		{"distinct paths pass", "  - {name: a, type: file, path: /tmp/di/a.ndjson}\n  - {name: b, type: file, path: /tmp/di/b.ndjson}\n", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			y := "sources:\n  - name: in\n    type: configtest\n    address: here\n\nsinks:\n" + tc.sinks + tc.extra
			c, err := Parse("cfg.yaml", []byte(y))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCheckStorageConnectionString(t *testing.T) {
	const key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	tests := []struct {
		name, cs, want string
	}{
		{"valid", "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + key + ";EndpointSuffix=core.windows.net", ""},
		{"key lost its padding", "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + strings.TrimSuffix(key, "==") + ";EndpointSuffix=core.windows.net", "AccountKey: not valid base64"},
		{"key with a space", "AccountName=acct;AccountKey=Eby8vdM0 2xNOcqFl==", "AccountKey: not valid base64"},
		{"key not base64 at all", "AccountName=acct;AccountKey=not-a-key!", "AccountKey: not valid base64 (at character 4"},
		{"key without account", "AccountKey=" + key, "AccountName: missing"},
		{"SAS", "BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&sig=abc%3D", ""},
		{"development storage", "UseDevelopmentStorage=true", ""},
		{"no credential", "AccountName=acct;EndpointSuffix=core.windows.net", "no AccountKey nor SharedAccessSignature"},
		{"not a connection string", "https://acct.blob.core.windows.net", "not a connection string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckStorageConnectionString(tc.cs)
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "Eby8") {
				t.Errorf("the error quotes the key: %v", err)
			}
		})
	}
}

// Anchors, aliases and merge keys give a component the keys a reader of
// the file sees (they were decoded as an unknown key "<<" or a component
// without a type), and a key written beside a merge wins over it.
func TestMergeKeysAndAliases(t *testing.T) {
	y := `sources:
  - &src
    type: configtest
    address: first
  - <<: *src
    name: second
  - <<: [*src]
    name: third
    address: own
sinks:
  - &f {type: file, path: /tmp/a.ndjson, max_size_mb: 7}
  - {<<: *f, name: b, path: /tmp/b.ndjson}
`
	c, err := Parse("cfg.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range append(append([]Component{}, c.Sources...), c.Sinks...) {
		got = append(got, fmt.Sprintf("%s/%s/%+v", s.Name, s.Type, s.Section))
	}
	want := []string{
		"configtest/configtest/&{Address:first Token: Port:7 Interval:1s Nested:{Flag:false}}",
		"second/configtest/&{Address:first Token: Port:7 Interval:1s Nested:{Flag:false}}",
		"third/configtest/&{Address:own Token: Port:7 Interval:1s Nested:{Flag:false}}",
		"file/file/&{Path:/tmp/a.ndjson MaxSizeMB:7 MaxFiles:10}",
		"b/file/&{Path:/tmp/b.ndjson MaxSizeMB:7 MaxFiles:10}",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("components:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// readSection reads files, as the file source does.
type readSection struct {
	Paths []string `yaml:"paths"`
}

func (s *readSection) Validate() error              { return nil }
func (s *readSection) ReadPaths(string) []string    { return s.Paths }
func (s *readSection) WrittenPaths(string) []string { return nil }

func init() {
	source.Register("readtest", source.Factory{
		NewSection: func() source.Section { return &readSection{} },
		Open: func(string, source.Section, source.Env) (pipeline.Source, error) {
			return nil, errors.New("not for running")
		},
	})
}

// One path is one path however it is written: relative, with "./" or
// "..", absolute, or through a symbolic link to its directory, existing
// or not yet. And a source never reads what a component writes.
func TestSamePathHoweverWritten(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "real", "out.ndjson"), filepath.Join(dir, "file-link.ndjson")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	tests := []struct {
		name, a, b string
		same       bool
	}{
		{"relative and ./", "real/out.ndjson", "./real/out.ndjson", true},
		{"relative and absolute", "real/out.ndjson", filepath.Join(dir, "real/out.ndjson"), true},
		{"through a linked directory", "real/out.ndjson", "link/out.ndjson", true},
		{"through a link to the file", "real/out.ndjson", "file-link.ndjson", true},
		{"with ..", "link/../real/new/x.ndjson", "real/new/sub/../x.ndjson", true},
		{"not yet existing, through a link", "link/new/x.ndjson", "real/new/x.ndjson", true},
		{"different files", "real/a.ndjson", "link/b.ndjson", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			y := fmt.Sprintf("sources:\n  - {type: configtest, address: x}\nsinks:\n  - {name: a, type: file, path: %q}\n  - {name: b, type: file, path: %q}\n", tc.a, tc.b)
			c, err := Parse("cfg.yaml", []byte(y))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if got := err != nil && strings.Contains(err.Error(), `as sink "a"`); got != tc.same {
				t.Errorf("refused = %t, want %t (%v)", got, tc.same, err)
			}
		})
	}
	reads := []struct {
		name, paths, want string
	}{
		{"a sink's output", "[link/out.ndjson]", `source "r" (readtest) reads link/out.ndjson, which sink "a" (file)`},
		{"a pattern over a sink's output", "['real/*.ndjson']", `reads real/*.ndjson, which sink "a" (file)`},
		{"a pattern over the dead letters", "['dl/*']", `reads dl/*, which dead_letter.path`},
		{"other files", "['in/*.ndjson', other.ndjson]", ""},
	}
	for _, tc := range reads {
		t.Run("source reads "+tc.name, func(t *testing.T) {
			y := "dead_letter: {path: dl/dead.ndjson}\nsources:\n  - {name: r, type: readtest, paths: " + tc.paths + "}\nsinks:\n  - {name: a, type: file, path: real/out.ndjson}\n"
			c, err := Parse("cfg.yaml", []byte(y))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
