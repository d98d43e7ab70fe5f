package sigma

import (
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Options configures compilation.
type Options struct {
	// Mapper resolves logsources and field names; required.
	Mapper Mapper
	// Placeholders are the values of %name% placeholders for the expand
	// modifier. A rule using an undefined placeholder is skipped.
	Placeholders map[string][]string
}

// compiler holds the state shared by all rules of one Engine.
type compiler struct {
	opts   Options
	mapper Mapper
	fields map[string]int // Event key -> field id
	keys   []string       // field id -> Event key
	ls     Logsource      // logsource of the rule being compiled
}

func (c *compiler) fieldID(key string) int {
	if id, ok := c.fields[key]; ok {
		return id
	}
	id := len(c.keys)
	c.fields[key] = id
	c.keys = append(c.keys, key)
	return id
}

func (c *compiler) lsName() string {
	var parts []string
	for _, p := range []string{c.ls.Product, c.ls.Category, c.ls.Service} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}

// compileRule turns a parsed rule into a Rule or a skip reason.
func (c *compiler) compileRule(src Source, doc *ruleDoc) (*Rule, error) {
	c.ls = doc.Logsource
	scope, err := c.mapper.Scope(doc.Logsource)
	if err != nil {
		return nil, &skipError{Reason: "logsource not supported", Detail: err.Error()}
	}
	sels := map[string]*node{}
	var condNode *yaml.Node
	det := &doc.Detection
	for i := 0; i+1 < len(det.Content); i += 2 {
		k, v := det.Content[i], det.Content[i+1]
		switch k.Value {
		case "condition":
			condNode = v
			continue
		case "timeframe":
			return nil, skipf("timeframe not supported", "use a correlation rule")
		}
		n, err := c.compileSelection(v)
		if err != nil {
			return nil, err
		}
		sels[k.Value] = n
	}
	if condNode == nil {
		return nil, skipf("invalid rule", "detection has no condition")
	}
	var root *node
	switch condNode.Kind {
	case yaml.ScalarNode:
		root, err = parseCondition(condNode.Value, sels)
	case yaml.SequenceNode:
		// Sigma v1 allowed a list of conditions, any of which matches.
		or := &node{op: opOr}
		for _, cn := range condNode.Content {
			var n *node
			if n, err = parseCondition(cn.Value, sels); err != nil {
				break
			}
			or.kids = append(or.kids, n)
		}
		root = or
	default:
		return nil, skipf("invalid condition", "condition is a %s", kindName(condNode))
	}
	if err != nil {
		return nil, err
	}
	root = c.requireScope(root, scope)
	orderByCost(root)
	return &Rule{
		ID: doc.ID, Title: doc.Title, Name: doc.Name, Description: strings.TrimSpace(doc.Description),
		Status: doc.Status, Author: doc.Author, Level: strings.ToLower(doc.Level),
		Tags: doc.Tags, References: doc.References, Logsource: doc.Logsource,
		Path: src.Path, GroupBy: doc.GroupBy, LevelField: doc.LevelField, TitleField: doc.TitleField,
		ServiceField: doc.ServiceField,
		root:         root, tables: scope.Tables,
	}, nil
}

// compileSelection compiles one search identifier: a map is an AND of its
// items, a list of maps an OR of them, a list of plain values a keyword
// search.
func (c *compiler) compileSelection(v *yaml.Node) (*node, error) {
	switch v.Kind {
	case yaml.MappingNode:
		return c.compileMap(v)
	case yaml.SequenceNode:
		or := &node{op: opOr}
		var keywords []*yaml.Node
		for _, item := range v.Content {
			switch item.Kind {
			case yaml.MappingNode:
				n, err := c.compileMap(item)
				if err != nil {
					return nil, err
				}
				or.kids = append(or.kids, n)
			case yaml.ScalarNode:
				keywords = append(keywords, item)
			default:
				return nil, skipf("unsupported detection", "nested %s in a selection list (line %d)", kindName(item), item.Line)
			}
		}
		if len(keywords) > 0 {
			n, err := c.compileField("", &yaml.Node{Kind: yaml.SequenceNode, Content: keywords})
			if err != nil {
				return nil, err
			}
			or.kids = append(or.kids, n)
		}
		if len(or.kids) == 0 {
			return &node{op: opFalse}, nil
		}
		return or, nil
	case yaml.ScalarNode:
		return c.compileField("", v)
	}
	return nil, skipf("unsupported detection", "selection is a %s (line %d)", kindName(v), v.Line)
}

func (c *compiler) compileMap(m *yaml.Node) (*node, error) {
	and := &node{op: opAnd}
	for i := 0; i+1 < len(m.Content); i += 2 {
		n, err := c.compileField(m.Content[i].Value, m.Content[i+1])
		if err != nil {
			return nil, err
		}
		and.kids = append(and.kids, n)
	}
	if len(and.kids) == 1 {
		return and.kids[0], nil
	}
	if len(and.kids) == 0 {
		return &node{op: opTrue}, nil
	}
	return and, nil
}

// compileField compiles `Field|mods: value(s)`; an empty field name is a
// keyword search.
func (c *compiler) compileField(spec string, v *yaml.Node) (*node, error) {
	parts := strings.Split(spec, "|")
	name := parts[0]
	ms, err := parseModifiers(parts[1:])
	if err != nil {
		return nil, err
	}
	var key string
	if name == "" {
		// Keywords are a full-text search: they match anywhere in the text.
		key = KeywordKey
		if ms.match == "" {
			ms.match = "contains"
		}
	} else {
		var ok bool
		if key, ok = c.mapper.Field(c.ls, name); !ok {
			return nil, skipf("field not mapped", "%s (%s)", name, c.lsName())
		}
	}
	fc := &fieldCond{field: c.fieldID(key), name: name, all: ms.all}
	values := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		values = v.Content
		if len(values) == 0 {
			return nil, skipf("invalid detection", "empty value list for %s", spec)
		}
	}
	for _, val := range values {
		vms, err := c.compileValue(ms, val)
		if err != nil {
			return nil, err
		}
		fc.groups = append(fc.groups, vms)
	}
	fc.buildAnyOf()
	return &node{op: opLeaf, cond: fc}, nil
}

// requireScope ANDs the scope's required field values into the condition,
// first so that events of another action type are rejected cheaply.
func (c *compiler) requireScope(root *node, scope Scope) *node {
	if len(scope.Require) == 0 {
		return root
	}
	keys := make([]string, 0, len(scope.Require))
	for k := range scope.Require {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	and := &node{op: opAnd}
	for _, k := range keys {
		fc := &fieldCond{field: c.fieldID(k), name: k, scope: true}
		for _, v := range scope.Require[k] {
			fc.groups = append(fc.groups, []valueMatcher{{kind: vmString, str: newStrMatcher(literalPattern(v), false)}})
		}
		and.kids = append(and.kids, &node{op: opLeaf, cond: fc})
	}
	and.kids = append(and.kids, root)
	return and
}
