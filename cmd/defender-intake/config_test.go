package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
)

func TestConfigCheckAndEstimateCommands(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "sources:\n  - {name: f, type: file, paths: [/tmp/x]}\nsinks:\n  - {type: stdout}\n")
	typo := write("typo.yaml", "sources:\n  - {name: f, type: file, paths: [/tmp/x], folow: true}\nsinks:\n  - {type: stdout}\n")
	t.Setenv("EXAMPLE_SECRET_FOR_TEST", "s3cr3t-value")
	example := filepath.Join("..", "..", "examples", "config.yaml")
	var recs bytes.Buffer
	for _, r := range deliverytest.Records(120, "est") {
		recs.Write(r)
		recs.WriteByte('\n')
	}
	data := write("data.ndjson", recs.String())

	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		code     int
		stdout   []string
		stderr   []string
		noOutput string // must appear nowhere
	}{
		{name: "valid", args: []string{"config", "check", good}, code: 0, stdout: []string{"good.yaml: OK", "source f", "type file"}},
		{name: "unknown key with line", args: []string{"config", "check", typo}, code: 1, stderr: []string{"typo.yaml:2: unknown key \"folow\""}},
		{name: "missing file", args: []string{"config", "check", filepath.Join(dir, "nope.yaml")}, code: 1, stderr: []string{"nope.yaml"}},
		{name: "usage", args: []string{"config"}, code: 2, stderr: []string{"usage"}},
		{name: "shipped example is valid and does not print secrets", args: []string{"config", "check", example},
			env:  map[string]string{"EVENTHUB_CONNECTION_STRING": "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s3cr3t-value;EntityPath=defender-export", "STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=czNjcjN0LXZhbHVl"},
			code: 0, stdout: []string{"OK", "type eventhub"}, noOutput: "s3cr3t-value"},
		{name: "storage account key that is not base64 is caught", args: []string{"config", "check", example},
			env:  map[string]string{"EVENTHUB_CONNECTION_STRING": "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=x;EntityPath=defender-export", "STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=s3cr3t-value"},
			code: 1, stderr: []string{"config.yaml:", "storage_connection_string: AccountKey: not valid base64"}, noOutput: "s3cr3t-value"},
		{name: "help", args: []string{"config", "check", "-h"}, code: 0, stdout: []string{"usage: defender-intake config check FILE"}},
		{name: "help before check", args: []string{"config", "--help"}, code: 0, stdout: []string{"usage: defender-intake config check FILE"}},
		{name: "estimate a file", args: []string{"estimate", data}, code: 0, stdout: []string{"AdvancedHunting-DeviceProcessEvents", "120", "throughput units: 1", "partitions:       1"}},
		{name: "estimate nothing", args: []string{"estimate", good}, code: 1, stderr: []string{"no records"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var out, errb bytes.Buffer
			code := dispatch(tc.args, strings.NewReader(""), &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errb.String())
			}
			for _, w := range tc.stdout {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
			if tc.noOutput != "" && strings.Contains(out.String()+errb.String(), tc.noOutput) {
				t.Errorf("output contains %q", tc.noOutput)
			}
		})
	}
}
