package config

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// yamlParserProblems are the messages of yaml.v3's parser (not its
// scanner). For these, yaml.v3 reports the 0-based line of the construct
// being parsed, so its "line N" is one line early, and no line at all for
// the first one; scanner messages carry a correct 1-based line.
var yamlParserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

var yamlErrLine = regexp.MustCompile(`^yaml: (?:line ([0-9]+): )?(.*)$`)

// syntaxError turns a yaml.v3 parse error of b into "file:LINE: YAML
// syntax: problem" with the line the problem is on.
func syntaxError(file string, b []byte, err error) error {
	m := yamlErrLine.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	problem := m[2]
	line, _ := strconv.Atoi(m[1])
	if yamlParserProblems[problem] {
		// The parser names (0-based) where the broken construct starts,
		// or where it noticed the problem. The first line from there at
		// which the text, cut after it, already fails the same way is
		// where it breaks (an indentation or a key out of place, a
		// bracket never closed).
		if l := firstFailingLine(b, problem, max(line, 1)); l > 0 {
			line = l
		} else {
			line++
		}
	} else if m[1] == "" {
		line = 1
	}
	return fmt.Errorf("%s:%d: YAML syntax: %s", file, line, problem)
}

// firstFailingLine returns the smallest n >= from such that the first n
// lines of b fail to parse with problem, or 0.
func firstFailingLine(b []byte, problem string, from int) int {
	n, end := 0, 0
	for end < len(b) {
		i := bytes.IndexByte(b[end:], '\n')
		if i < 0 {
			end = len(b)
		} else {
			end += i + 1
		}
		n++
		if n < from {
			continue
		}
		var doc yaml.Node
		err := yaml.Unmarshal(b[:end], &doc)
		if err == nil {
			continue
		}
		if m := yamlErrLine.FindStringSubmatch(err.Error()); m != nil && m[2] == problem {
			return n
		}
	}
	return 0
}

// keyLines records the line of every key of the top-level sections
// ("log", "log.level", "sinks", ...), for messages about their values.
func keyLines(doc *yaml.Node) map[string]int {
	lines := map[string]int{}
	top := doc
	if top.Kind == yaml.DocumentNode && len(top.Content) > 0 {
		top = top.Content[0]
	}
	if top.Kind != yaml.MappingNode {
		return lines
	}
	lines[""] = top.Line
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		lines[k.Value] = k.Line
		if v.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(v.Content); j += 2 {
				lines[k.Value+"."+v.Content[j].Value] = v.Content[j].Line
			}
		}
	}
	return lines
}

// at returns "file:LINE" for key, falling back to its section's line, or
// to the file alone for a key the file does not have.
func (c *Config) at(key string) string {
	for k := key; ; {
		if l, ok := c.lines[k]; ok && l > 0 {
			return c.File + ":" + strconv.Itoa(l)
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			return c.File
		}
		k = k[:i]
	}
}
