package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/pipeline"
	filesink "github.com/defender-intake/defender-intake/internal/sink/file"
	"github.com/defender-intake/defender-intake/internal/source"
)

type testSection struct {
	Address  string        `yaml:"address"`
	Token    Secret        `yaml:"token"`
	Port     int           `yaml:"port"`
	Interval time.Duration `yaml:"interval"`
	Nested   struct {
		Flag bool `yaml:"flag"`
	} `yaml:"nested"`
}

func (s *testSection) Validate() error {
	if s.Address == "" {
		return errors.New("address: required")
	}
	return nil
}

func init() {
	source.Register("configtest", source.Factory{
		NewSection: func() source.Section { return &testSection{Port: 7, Interval: time.Second} },
		Open: func(string, source.Section, source.Env) (pipeline.Source, error) {
			return nil, errors.New("not for running")
		},
	})
	source.Register("flowtest", source.Factory{
		NewSection: func() source.Section { return &flowSection{} },
		Open: func(string, source.Section, source.Env) (pipeline.Source, error) {
			return nil, errors.New("not for running")
		},
	})
}

const base = `
sources:
  - name: in
    type: configtest
    address: here
sinks:
  - name: out
    type: file
    path: /tmp/x.ndjson
`

func TestParse(t *testing.T) {
	t.Setenv("CFGTEST_TOKEN", "s3cr3t")
	t.Setenv("CFGTEST_PORT", "9000")
	tests := []struct {
		name    string
		yaml    string
		wantErr []string // substrings; empty: must parse and validate
		check   func(t *testing.T, c *Config)
	}{
		{name: "minimal with defaults", yaml: base, check: func(t *testing.T, c *Config) {
			d := Default()
			if c.Server != d.Server || c.Pipeline != d.Pipeline || c.DeadLetter != d.DeadLetter {
				t.Errorf("defaults not applied: %+v", c)
			}
			s := c.Sources[0].Section.(*testSection)
			if s.Port != 7 || s.Interval != time.Second || s.Address != "here" {
				t.Errorf("section defaults/values wrong: %+v", s)
			}
		}},
		{name: "env expansion and typed values", yaml: `
sources:
  - type: configtest
    address: "a"
    token: ${CFGTEST_TOKEN}
    port: ${CFGTEST_PORT}
    interval: 5m
sinks:
  - {type: file, path: /tmp/y}
pipeline:
  drain_timeout: 1m
`, check: func(t *testing.T, c *Config) {
			s := c.Sources[0].Section.(*testSection)
			if s.Token.Value() != "s3cr3t" || s.Port != 9000 || s.Interval != 5*time.Minute {
				t.Errorf("got %+v", s)
			}
			if c.Sources[0].Name != "configtest" {
				t.Errorf("name defaults to type, got %q", c.Sources[0].Name)
			}
			if c.Pipeline.DrainTimeout != time.Minute || c.Pipeline.QueueBatches != Default().Pipeline.QueueBatches {
				t.Errorf("pipeline = %+v", c.Pipeline)
			}
			if fmt.Sprint(s.Token) != "[REDACTED]" {
				t.Errorf("secret prints as %q", fmt.Sprint(s.Token))
			}
		}},
		{name: "a lone $ is literal, $$ is one $", yaml: strings.Replace(base, "address: here", "address: $Default-$${X}", 1), check: func(t *testing.T, c *Config) {
			if got := c.Sources[0].Section.(*testSection).Address; got != "$Default-${X}" {
				t.Errorf("address = %q", got)
			}
		}},
		{name: "unknown top-level key", yaml: base + "extra: 1\n", wantErr: []string{"cfg.yaml:10: unknown key \"extra\""}},
		{name: "unknown nested key", yaml: base + "pipeline:\n  workerz: 2\n", wantErr: []string{"cfg.yaml:11: unknown key \"workerz\""}},
		{name: "unknown key in source section", yaml: strings.Replace(base, "address: here", "address: here\n    adress: typo", 1), wantErr: []string{"cfg.yaml:6: unknown key \"adress\"", "source \"in\""}},
		{name: "unknown key in nested section struct", yaml: strings.Replace(base, "address: here", "address: here\n    nested: {flag: true, flg: 1}", 1), wantErr: []string{"cfg.yaml:6: unknown key \"flg\""}},
		{name: "unknown key in sink", yaml: base + "    max_sise_mb: 3\n", wantErr: []string{"cfg.yaml:10: unknown key \"max_sise_mb\""}},
		{name: "unset env var", yaml: strings.Replace(base, "address: here", "address: ${CFGTEST_NOT_SET_ANYWHERE}", 1), wantErr: []string{"cfg.yaml:5: environment variable CFGTEST_NOT_SET_ANYWHERE is not set"}},
		{name: "unknown type", yaml: strings.Replace(base, "type: configtest", "type: carrier-pigeon", 1), wantErr: []string{"cfg.yaml:3", "unknown type \"carrier-pigeon\""}},
		{name: "wrong value type", yaml: strings.Replace(base, "address: here", "address: here\n    port: many", 1), wantErr: []string{"cfg.yaml", "cfg.yaml:6: cannot unmarshal"}},
		{name: "validation: section", yaml: strings.Replace(base, "address: here", "port: 1", 1), wantErr: []string{"cfg.yaml:3: source \"in\" (configtest): address: required"}},
		{name: "validation: duplicate names", yaml: base + "  - name: out\n    type: file\n    path: /tmp/z\n", wantErr: []string{"sink name \"out\" used twice"}},
		{name: "validation: listen", yaml: base + "server:\n  listen: nope\n", wantErr: []string{"server.listen"}},
		{name: "validation: no sources", yaml: "sinks:\n  - {type: file, path: /tmp/q}\n", wantErr: []string{"sources: at least one"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("cfg.yaml", []byte(tc.yaml))
			if err == nil {
				err = c.Validate()
			}
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if tc.check != nil {
					tc.check(t, c)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateDoesNotMutate(t *testing.T) {
	// An invalid config exercises every validation branch.
	y := strings.Replace(base, "address: here", "port: 0", 1) + "pipeline:\n  workers: -1\nserver:\n  listen: bad\n"
	c, err := Parse("cfg.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	top := *c
	src := *c.Sources[0].Section.(*testSection)
	snk := *c.Sinks[0].Section.(*filesink.Config)
	if err := c.Validate(); err == nil {
		t.Fatal("want validation errors")
	}
	if !reflect.DeepEqual(top, *c) || !reflect.DeepEqual(src, *c.Sources[0].Section.(*testSection)) || !reflect.DeepEqual(snk, *c.Sinks[0].Section.(*filesink.Config)) {
		t.Error("Validate changed the config")
	}
}

func TestSecretFromFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tok")
	if err := os.WriteFile(p, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(base, "address: here", "address: here\n    token: {file: "+p+"}", 1)
	c, err := Parse("cfg.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Sources[0].Section.(*testSection).Token.Value(); got != "from-file" {
		t.Errorf("token = %q", got)
	}
}
