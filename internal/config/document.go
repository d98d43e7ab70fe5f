package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// parseDocument parses the (protected) text of file into its one YAML
// document. yaml.Unmarshal reads only the first document of a stream and
// ignores the rest, so a config split by "---" would lose its second half
// without a word: a second document is an error naming its line.
func parseDocument(file string, b []byte) (*yaml.Node, error) {
	if err := checkUTF8(file, b); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &doc, nil // empty: the caller says so
		}
		return nil, syntaxError(file, b, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxError(file, b, err)
	case len(next.Content) > 0 && !(next.Content[0].Kind == yaml.ScalarNode && next.Content[0].ShortTag() == "!!null"):
		// (a "---" that ends the file opens an empty document: nothing lost)
		return nil, fmt.Errorf("%s:%d: a second YAML document (after \"---\"): the config is one document, merge them", file, next.Content[0].Line)
	}
	return &doc, nil
}

// checkUTF8 names the line of the first byte that is not UTF-8: yaml.v3
// says only "invalid leading UTF-8 octet", with no line. A file that
// starts with a UTF-16 byte order mark is left to yaml.v3, which reads it.
func checkUTF8(file string, b []byte) error {
	if bytes.HasPrefix(b, []byte{0xff, 0xfe}) || bytes.HasPrefix(b, []byte{0xfe, 0xff}) || utf8.Valid(b) {
		return nil
	}
	line, col := 1, 1
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return fmt.Errorf("%s:%d: not UTF-8 text (byte 0x%02x at column %d): save the file as UTF-8", file, line, b[i], col)
		}
		if r == '\n' {
			line, col = line+1, 0
		}
		col++
		i += size
	}
	return nil
}

// resolveMerges replaces the merge keys ("<<: *defaults", "<<: [*a, *b]")
// of every mapping under n with the keys they bring, as yaml.v3's decoder
// would, so that the strict key check, the lines of messages and the
// sources and sinks read node by node see the keys a reader of the file
// sees. A key written in the mapping wins over a merged one, and the
// first merged mapping over later ones.
func resolveMerges(file string, n *yaml.Node, errs *[]string) {
	seen := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		switch n.Kind {
		case yaml.AliasNode:
			walk(n.Alias)
			return
		case yaml.MappingNode:
			mergeInto(file, n, errs)
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
}

func mergeInto(file string, m *yaml.Node, errs *[]string) {
	var own, merged []*yaml.Node
	has := map[string]bool{}
	var sources []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			if v.Kind == yaml.SequenceNode {
				sources = append(sources, v.Content...)
			} else {
				sources = append(sources, v)
			}
			continue
		}
		own = append(own, k, v)
		has[k.Value] = true
	}
	if len(sources) == 0 {
		return
	}
	for _, src := range sources {
		for src.Kind == yaml.AliasNode {
			src = src.Alias
		}
		if src.Kind != yaml.MappingNode {
			*errs = append(*errs, fmt.Sprintf("%s:%d: a merge key (<<) takes a mapping or a list of mappings", file, src.Line))
			continue
		}
		mergeInto(file, src, errs) // its own merges first
		for i := 0; i+1 < len(src.Content); i += 2 {
			k := src.Content[i]
			if !has[k.Value] {
				has[k.Value] = true
				merged = append(merged, k, src.Content[i+1])
			}
		}
	}
	m.Content = append(own, merged...)
}
