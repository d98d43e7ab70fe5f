package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// Rule is a loaded, compiled Sigma rule: its metadata as written (the
// author must be shown for SigmaHQ rules: DRL licence) and its compiled
// detection.
type Rule struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Status      string `json:"status,omitempty"`
	Author      string `json:"author,omitempty"`
	Level       string `json:"level,omitempty"`
	// Name is the rule's `name:`, by which correlation rules refer to it.
	Name       string    `json:"name,omitempty"`
	Tags       []string  `json:"tags,omitempty"`
	References []string  `json:"references,omitempty"`
	Logsource  Logsource `json:"logsource"`
	// Path is where the rule came from (Source.Path).
	Path string `json:"path,omitempty"`
	// GroupBy lists event fields (ECS names) that identify one alert
	// instead of the default rule + entity grouping. A custom attribute
	// (`group_by:`), used by the built-in Defender alert rules.
	GroupBy []string `json:"group_by,omitempty"`
	// LevelField names an event field whose value overrides Level (for
	// Defender's own alert severity). A custom attribute (`level_field:`).
	LevelField string `json:"level_field,omitempty"`
	// TitleField names an event field whose value titles the alert (for
	// Defender's own alert title). A custom attribute (`title_field:`).
	TitleField string `json:"title_field,omitempty"`
	// ServiceField names an event field holding the detecting service
	// (Defender's ServiceSource). A custom attribute (`service_field:`).
	ServiceField string `json:"service_field,omitempty"`

	// CorrelationOnly is set when the rule only feeds correlation rules
	// (referenced without `generate: true`): its matches raise no alert
	// of their own.
	CorrelationOnly bool `json:"correlation_only,omitempty"`

	root   *node
	tables []string
	index  int // position in Engine.rules, for stable output order
}

// Source is one rule file's content.
type Source struct {
	Path string
	Data []byte
}

// Skipped is a rule that did not load. Reason is short and stable (for
// grouping in reports); Detail says what exactly.
type Skipped struct {
	Path   string `json:"path"`
	ID     string `json:"id,omitempty"`
	Title  string `json:"title,omitempty"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// ATTACK returns the rule's MITRE ATT&CK tags (attack.*).
func (r *Rule) ATTACK() []string {
	var out []string
	for _, t := range r.Tags {
		if strings.HasPrefix(strings.ToLower(t), "attack.") {
			out = append(out, t)
		}
	}
	return out
}

// ruleDoc is the YAML layout of a detection rule.
type ruleDoc struct {
	Title        string         `yaml:"title"`
	ID           string         `yaml:"id"`
	Description  string         `yaml:"description"`
	Status       string         `yaml:"status"`
	Author       string         `yaml:"author"`
	Level        string         `yaml:"level"`
	Tags         []string       `yaml:"tags"`
	References   []string       `yaml:"references"`
	Logsource    Logsource      `yaml:"logsource"`
	Detection    yaml.Node      `yaml:"detection"`
	Correlation  yaml.Node      `yaml:"correlation"`
	Filter       yaml.Node      `yaml:"filter"`
	Action       string         `yaml:"action"`
	Name         string         `yaml:"name"`
	Generate     bool           `yaml:"generate"`
	GroupBy      []string       `yaml:"group_by"`
	LevelField   string         `yaml:"level_field"`
	TitleField   string         `yaml:"title_field"`
	ServiceField string         `yaml:"service_field"`
	Rest         map[string]any `yaml:",inline"`
}

// parsedDoc is one YAML document of a rule file, or why it is unusable.
type parsedDoc struct {
	doc *ruleDoc
	err error
}

// parseFile decodes a rule file: one rule, or several documents (Sigma v2
// puts a correlation and its base rules in one file). Sigma v1 rule
// collections (action: global/reset/repeat) are not supported.
func parseFile(src Source) []parsedDoc {
	dec := yaml.NewDecoder(bytes.NewReader(src.Data))
	var out []parsedDoc
	for {
		var doc ruleDoc
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return append(out, parsedDoc{err: &skipError{Reason: "invalid YAML", Detail: err.Error()}})
		}
		out = append(out, parsedDoc{doc: &doc, err: checkDoc(&doc)})
	}
	for _, d := range out {
		if d.doc != nil && d.doc.Action != "" {
			// The documents only make sense together: skip the file once.
			return []parsedDoc{{doc: out[0].doc, err: &skipError{Reason: "rule collections not supported", Detail: "action: " + d.doc.Action}}}
		}
	}
	if len(out) == 0 {
		out = append(out, parsedDoc{err: &skipError{Reason: "invalid rule", Detail: "empty file"}})
	}
	return out
}

func checkDoc(doc *ruleDoc) error {
	switch {
	case doc.Filter.Kind != 0:
		return &skipError{Reason: "filter rules not supported yet"}
	case doc.Title == "":
		return &skipError{Reason: "invalid rule", Detail: "no title"}
	case doc.Correlation.Kind != 0:
		return nil
	case doc.Detection.Kind != yaml.MappingNode:
		return &skipError{Reason: "invalid rule", Detail: "no detection section"}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "map"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "value"
	case yaml.AliasNode:
		return "alias"
	}
	return "node"
}

func sprintf(format string, args ...any) string {
	if len(args) == 0 {
		return format
	}
	return fmt.Sprintf(format, args...)
}
