package config

import (
	"strings"
	"testing"
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
