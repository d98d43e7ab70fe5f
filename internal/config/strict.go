package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

var decodeErrLine = regexp.MustCompile(`^line ([0-9]+): (.*)$`)

var (
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	nodeType        = reflect.TypeFor[yaml.Node]()
)

// decodeStrict decodes n into v (a pointer), first reporting every mapping
// key that has no field in v's type, with the file and line of the key,
// because yaml.v3's KnownFields only exists on a Decoder reading a stream,
// not on a node, and we decode sections node by node.
func decodeStrict(file string, n *yaml.Node, v any) error {
	var errs []string
	checkKeys(file, n, reflect.TypeOf(v), &errs)
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	if err := n.Decode(v); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			// "line N: problem" becomes "file:N: problem", one a line, as
			// every other message of the config says it.
			msgs := make([]string, len(te.Errors))
			for i, e := range te.Errors {
				if m := decodeErrLine.FindStringSubmatch(e); m != nil {
					msgs[i] = file + ":" + m[1] + ": " + m[2]
				} else {
					msgs[i] = file + ": " + e
				}
			}
			return errors.New(strings.Join(msgs, "\n"))
		}
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

func checkKeys(file string, n *yaml.Node, t reflect.Type, errs *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nodeType || reflect.PointerTo(t).Implements(unmarshalerType) || t.Kind() == reflect.Interface {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			checkKeys(file, c, t, errs)
		}
	case yaml.AliasNode:
		checkKeys(file, n.Alias, t, errs)
	case yaml.MappingNode:
		switch t.Kind() {
		case reflect.Struct:
			fields := yamlFields(t)
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				ft, ok := fields[k.Value]
				if !ok {
					*errs = append(*errs, fmt.Sprintf("%s:%d: unknown key %q (known: %s)", file, k.Line, k.Value, knownKeys(fields)))
					continue
				}
				checkKeys(file, n.Content[i+1], ft, errs)
			}
		case reflect.Map:
			for i := 1; i < len(n.Content); i += 2 {
				checkKeys(file, n.Content[i], t.Elem(), errs)
			}
		}
	case yaml.SequenceNode:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for _, c := range n.Content {
				checkKeys(file, c, t.Elem(), errs)
			}
		}
	}
}

// yamlFields maps the YAML keys of struct type t to their field types,
// following yaml.v3's rules: the tag name, else the lowercased field name;
// ",inline" structs contribute their own keys.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range yamlFields(ft) {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func knownKeys(fields map[string]reflect.Type) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return "none"
	}
	return strings.Join(keys, ", ")
}
