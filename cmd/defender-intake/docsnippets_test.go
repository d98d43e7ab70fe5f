package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/source"
)

// Every configuration snippet the documentation shows passes `config check`
// as written. The rules, so that a snippet is never silently left out:
//
//   - The snippets are the ```yaml blocks of README.md and docs/*.md,
//     examples/config.yaml as a whole, and each commented-out component of
//     examples/config.yaml (a "  # - name:" line and the "  #   " lines
//     after it), uncommented.
//   - A snippet whose top-level keys are the configuration's own (sources,
//     sinks, ...) is checked as a file; a missing `sources` or `sinks` is
//     filled with a minimal one (a file source, a stdout sink).
//   - A snippet that is a list ("- name: ...") is a list of components:
//     it goes under `sources:` or `sinks:` according to its first `type`.
//   - A snippet of bare component keys (the keys every forwarding sink
//     accepts) is checked in an entry of every forwarding sink type, with
//     the type's required keys from forwardingMinimal.
//   - A snippet whose first key is in notConfig is another kind of YAML
//     (Sigma rules, field mappings, placeholders): skipped, and tested
//     where that kind is.
//   - A type that is both a source and a sink (kafka) is a sink in
//     docs/forwarding.md, a source elsewhere.
//   - Every ${NAME} gets a dummy value of the right shape (dummyEnv), and
//     the files a snippet only reads and that belong to the reader's
//     machine (ca_file) are replaced by a file that exists: config check
//     checks that they can be found.
func TestDocSnippetsPassConfigCheck(t *testing.T) {
	snippets := docSnippets(t)
	if len(snippets) < 15 {
		t.Fatalf("found only %d snippets: is the extraction broken?", len(snippets))
	}
	checked := 0
	for _, sn := range snippets {
		t.Run(sn.where, func(t *testing.T) {
			for _, m := range regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`).FindAllStringSubmatch(sn.text, -1) {
				t.Setenv(m[1], dummyEnv(m[1]))
			}
			ca := filepath.Join(t.TempDir(), "ca.pem")
			if err := os.WriteFile(ca, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			text := regexp.MustCompile(`(ca_file: )[^\s,}]+`).ReplaceAllString(sn.text, "${1}"+ca)
			files := wrapSnippet(t, sn.where, text)
			if files == nil {
				return
			}
			checked++
			for i, f := range files {
				p := filepath.Join(t.TempDir(), "snippet.yaml")
				if err := os.WriteFile(p, []byte(f), 0o600); err != nil {
					t.Fatal(err)
				}
				var stdout, stderr bytes.Buffer
				if code := configCmd([]string{"check", p}, nil, &stdout, &stderr); code != 0 {
					t.Errorf("config check (variant %d) exit %d:\n%s\n--- checked file:\n%s", i, code, stderr.String(), f)
				}
			}
		})
	}
	if checked < 12 {
		t.Errorf("only %d snippets were checked", checked)
	}
}

type docSnippet struct {
	where string // file:line
	text  string
}

var notConfig = map[string]bool{"fieldsets": true, "logsources": true, "admin_users": true, "title": true}

var configKeys = map[string]bool{"server": true, "log": true, "pipeline": true, "dead_letter": true, "sources": true, "sinks": true}

// forwardingMinimal holds the keys each forwarding sink type requires.
var forwardingMinimal = map[string]string{
	"sekoia":        "intake_key: dummy",
	"splunk_hec":    "url: https://splunk.example:8088\n    token: dummy",
	"elasticsearch": "url: https://es.example:9200\n    api_key: dummy",
	"clickhouse":    "url: http://127.0.0.1:8123",
	"kafka":         "brokers: [127.0.0.1:9092]\n    topic: dummy",
}

const (
	minimalSource = "sources:\n  - {name: doc-source, type: file, paths: [/nonexistent/doc-snippet.ndjson]}\n"
	minimalSink   = "sinks:\n  - {name: doc-sink, type: stdout}\n"
)

func dummyEnv(name string) string {
	switch {
	case strings.Contains(name, "STORAGE_CONNECTION_STRING"):
		return "DefaultEndpointsProtocol=https;AccountName=docs;AccountKey=ZG9jcy1zbmlwcGV0LWtleQ==;EndpointSuffix=core.windows.net"
	case strings.Contains(name, "CONNECTION_STRING"):
		return "Endpoint=sb://docs.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=ZG9jcw=="
	}
	return "dummy-" + strings.ToLower(name) + ":#,]'\""
}

func docSnippets(t *testing.T) []docSnippet {
	out := fencedBlocks(t, "yaml")
	ex := filepath.Join("..", "..", "examples", "config.yaml")
	b, err := os.ReadFile(ex)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, docSnippet{where: "config.yaml", text: string(b)})
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "  # - name:") {
			continue
		}
		block := []string{"  " + strings.TrimPrefix(lines[i], "  # ")}
		j := i + 1
		for ; j < len(lines) && strings.HasPrefix(lines[j], "  #   "); j++ {
			block = append(block, "  "+strings.TrimPrefix(lines[j], "  # "))
		}
		out = append(out, docSnippet{where: "config.yaml:" + strconv.Itoa(i+1), text: strings.Join(block, "\n") + "\n"})
		i = j - 1
	}
	return out
}

// wrapSnippet returns the config files to check for a snippet (several for
// bare forwarding keys), or nil for YAML that is not configuration.
func wrapSnippet(t *testing.T, where, text string) []string {
	first := firstKey(text)
	switch {
	case notConfig[first]:
		t.Skipf("not configuration YAML (first key %q)", first)
		return nil
	case configKeys[first]:
		f := text
		if !regexp.MustCompile(`(?m)^sources:`).MatchString(f) {
			f += "\n" + minimalSource
		}
		if !regexp.MustCompile(`(?m)^sinks:`).MatchString(f) {
			f += "\n" + minimalSink
		}
		return []string{f}
	case first == "-":
		list := dedent(text)
		typ := regexp.MustCompile(`(?m)^\s*(?:- )?type: (\S+)`).FindStringSubmatch(list)
		if typ == nil {
			t.Fatalf("a list snippet without a type:\n%s", text)
		}
		indented := indent(list, "  ")
		_, isSink := sink.Lookup(typ[1])
		if _, ok := source.Lookup(typ[1]); ok && !(isSink && strings.HasPrefix(where, "forwarding.md:")) {
			return []string{"sources:\n" + indented + "\n" + minimalSink}
		}
		if !isSink {
			t.Fatalf("type %q is neither a source nor a sink", typ[1])
		}
		return []string{minimalSource + "sinks:\n" + indented}
	}
	var files []string
	for typ, keys := range forwardingMinimal {
		files = append(files, minimalSource+"sinks:\n  - name: doc-"+typ+"\n    type: "+typ+"\n    "+keys+"\n"+indent(dedent(text), "    "))
	}
	return files
}

// firstKey is the first mapping key of a snippet, or "-" for a list.
func firstKey(text string) string {
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "- ") {
			return "-"
		}
		k, _, _ := strings.Cut(l, ":")
		return k
	}
	return ""
}

func dedent(text string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	min := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if n := len(l) - len(strings.TrimLeft(l, " ")); min < 0 || n < min {
			min = n
		}
	}
	for i, l := range lines {
		if len(l) >= min {
			lines[i] = l[min:]
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

func indent(text, by string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = by + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}
