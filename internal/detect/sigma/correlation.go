package sigma

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Correlation is a loaded Sigma correlation rule (specification v2):
// event_count, value_count, temporal or temporal_ordered over base rules,
// per group-by values, within a timespan. Its state lives in a Correlator.
type Correlation struct {
	ID          string        `json:"id"`
	Title       string        `json:"title"`
	Name        string        `json:"name,omitempty"`
	Description string        `json:"description,omitempty"`
	Author      string        `json:"author,omitempty"`
	Level       string        `json:"level,omitempty"`
	Tags        []string      `json:"tags,omitempty"`
	Path        string        `json:"path,omitempty"`
	Type        string        `json:"type"`
	GroupBy     []string      `json:"group_by,omitempty"`
	Timespan    time.Duration `json:"timespan"`
	// Rules are the base rules, in the order written (the order matters
	// for temporal_ordered).
	Rules []*Rule `json:"-"`

	groupKeys [][]int // per base rule: field id of each group-by field
	valueKeys []int   // per base rule: field id of value_count's field
	op        string  // gt or gte
	threshold int
	generate  bool
}

// ATTACK returns the correlation's MITRE ATT&CK tags (attack.*).
func (c *Correlation) ATTACK() []string { return (&Rule{Tags: c.Tags}).ATTACK() }

type pendingCorrelation struct {
	src Source
	doc *ruleDoc
}

// correlationDoc is the YAML `correlation:` section.
type correlationDoc struct {
	Type      string                       `yaml:"type"`
	Rules     []string                     `yaml:"rules"`
	GroupBy   []string                     `yaml:"group-by"`
	Timespan  string                       `yaml:"timespan"`
	Condition map[string]yaml.Node         `yaml:"condition"`
	Aliases   map[string]map[string]string `yaml:"aliases"`
	Generate  *bool                        `yaml:"generate"`
}

func (c *compiler) compileCorrelation(src Source, doc *ruleDoc, rules []*Rule) (*Correlation, error) {
	var cd correlationDoc
	if err := doc.Correlation.Decode(&cd); err != nil {
		return nil, skipf("invalid correlation", "%v", err)
	}
	switch cd.Type {
	case "event_count", "value_count", "temporal", "temporal_ordered":
	default:
		return nil, skipf("unsupported correlation type", "%q", cd.Type)
	}
	if len(cd.Rules) == 0 {
		return nil, skipf("invalid correlation", "no rules")
	}
	span, err := parseTimespan(cd.Timespan)
	if err != nil {
		return nil, skipf("invalid correlation", "%v", err)
	}
	corr := &Correlation{
		ID: doc.ID, Title: doc.Title, Name: doc.Name, Description: strings.TrimSpace(doc.Description),
		Author: doc.Author, Level: strings.ToLower(doc.Level), Tags: doc.Tags, Path: src.Path,
		Type: cd.Type, GroupBy: cd.GroupBy, Timespan: span, generate: doc.Generate,
	}
	if cd.Generate != nil {
		corr.generate = *cd.Generate
	}
	for _, ref := range cd.Rules {
		r := findRule(rules, ref)
		if r == nil {
			return nil, skipf("correlation refers to a rule that did not load", "%s", ref)
		}
		corr.Rules = append(corr.Rules, r)
	}
	valueField := ""
	for k, v := range cd.Condition {
		switch k {
		case "field":
			valueField = v.Value
		case "gt", "gte":
			n, err := strconv.Atoi(v.Value)
			if err != nil || n < 0 {
				return nil, skipf("invalid correlation", "condition %s: %q is not a count", k, v.Value)
			}
			if corr.op != "" {
				return nil, skipf("unsupported correlation condition", "several operators")
			}
			corr.op, corr.threshold = k, n
		default:
			// lt/lte/eq/neq can only be decided when a window closes,
			// which a streaming engine without timers cannot do faithfully.
			return nil, skipf("unsupported correlation condition", "%s (only gt and gte)", k)
		}
	}
	switch {
	case corr.op == "" && (cd.Type == "temporal" || cd.Type == "temporal_ordered"):
		corr.op, corr.threshold = "gte", len(corr.Rules)
	case corr.op == "":
		return nil, skipf("invalid correlation", "%s needs a condition", cd.Type)
	case cd.Type == "value_count" && valueField == "":
		return nil, skipf("invalid correlation", "value_count needs condition.field")
	}
	for i, r := range corr.Rules {
		ref := cd.Rules[i]
		var keys []int
		for _, g := range cd.GroupBy {
			name := g
			if al, ok := cd.Aliases[g]; ok {
				if name, ok = al[ref]; !ok {
					return nil, skipf("invalid correlation", "alias %s has no field for rule %s", g, ref)
				}
			}
			id, err := c.ruleField(r, name)
			if err != nil {
				return nil, err
			}
			keys = append(keys, id)
		}
		corr.groupKeys = append(corr.groupKeys, keys)
		if valueField != "" {
			id, err := c.ruleField(r, valueField)
			if err != nil {
				return nil, err
			}
			corr.valueKeys = append(corr.valueKeys, id)
		}
	}
	return corr, nil
}

func (c *compiler) ruleField(r *Rule, name string) (int, error) {
	key, ok := c.mapper.Field(r.Logsource, name)
	if !ok {
		c.ls = r.Logsource
		return 0, skipf("field not mapped", "%s (%s)", name, c.lsName())
	}
	return c.fieldID(key), nil
}

func findRule(rules []*Rule, ref string) *Rule {
	for _, r := range rules {
		if r.ID == ref || (r.Name != "" && r.Name == ref) {
			return r
		}
	}
	return nil
}

// parseTimespan reads Sigma durations: a number and s, m, h, d or w.
func parseTimespan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 {
		return 0, fmt.Errorf("timespan %q", s)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("timespan %q", s)
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	if unit == 0 {
		return 0, fmt.Errorf("timespan %q: unit must be s, m, h, d or w", s)
	}
	return time.Duration(n) * unit, nil
}

// markCorrelationOnly flags base rules that only feed correlations.
func markCorrelationOnly(rules []*Rule, corrs []*Correlation) {
	generates := map[*Rule]bool{}
	referenced := map[*Rule]bool{}
	for _, c := range corrs {
		for _, r := range c.Rules {
			referenced[r] = true
			generates[r] = generates[r] || c.generate
		}
	}
	for _, r := range rules {
		r.CorrelationOnly = referenced[r] && !generates[r]
	}
}
