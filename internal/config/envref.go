package config

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ${NAME} references are replaced by the variable's value after the YAML
// is parsed, on the scalar nodes, so that a value holding YAML syntax (a
// connection string's ';' and '=', a password with ':', '#', ',' or
// quotes) arrives byte for byte. Parsing first is not enough on its own:
// '{' and '}' may not appear in a plain scalar inside a flow collection,
// so `sasl: {password: ${X}}` or `brokers: [${X}]` would not parse. So
// before parsing, each reference is swapped for a token made only of
// letters, digits and '_' (valid wherever a plain scalar is, and of the
// same line), and the tokens are resolved after parsing.

var envRef = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// envRefs maps the tokens of one file back to the variable names.
type envRefs struct {
	prefix string   // not found anywhere in the file
	names  []string // token i stands for ${names[i]}
	match  *regexp.Regexp
}

// protectEnvRefs returns b with every ${NAME} (not one escaped as $${NAME})
// replaced by a token, and the table to resolve the tokens.
func protectEnvRefs(b []byte) ([]byte, *envRefs) {
	refs := &envRefs{}
	for {
		var nonce [6]byte
		rand.Read(nonce[:])
		refs.prefix = "ENVREF" + hex.EncodeToString(nonce[:]) + "_"
		if !strings.Contains(string(b), refs.prefix) {
			break
		}
	}
	out := envRef.ReplaceAllFunc(b, func(m []byte) []byte {
		if string(m) == "$$" {
			return m // resolved with the value, after parsing
		}
		refs.names = append(refs.names, string(m[2:len(m)-1]))
		return []byte(refs.prefix + strconv.Itoa(len(refs.names)-1) + "_")
	})
	// The same grammar as envRef plus the tokens: "${NAME}" can still
	// appear in a value after parsing (written with escapes in a quoted
	// string), and was always expanded there.
	refs.match = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|` + refs.prefix + `([0-9]+)_`)
	return out, refs
}

// restore puts the original ${NAME} text back where a token is not a value
// (mapping keys are never expanded).
func (r *envRefs) restore(s string) string {
	if !strings.Contains(s, r.prefix) {
		return s
	}
	return r.match.ReplaceAllStringFunc(s, func(m string) string {
		if i, ok := r.token(m); ok {
			return "${" + r.names[i] + "}"
		}
		return m
	})
}

func (r *envRefs) token(m string) (int, bool) {
	if !strings.HasPrefix(m, r.prefix) {
		return 0, false
	}
	i, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(m, r.prefix), "_"))
	if err != nil || i < 0 || i >= len(r.names) {
		return 0, false
	}
	return i, true
}

// expandEnv replaces ${NAME} in every scalar value (not keys) with the
// environment variable NAME; "$$" stands for a literal "$". An unset
// variable is an error naming file and line, so a missing secret is
// caught by `config check` rather than sent as an empty string.
func expandEnv(file string, n *yaml.Node, refs *envRefs, lookup func(string) (string, bool), errs *[]string) {
	switch n.Kind {
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") && !strings.Contains(n.Value, refs.prefix) {
			return
		}
		n.Value = refs.match.ReplaceAllStringFunc(n.Value, func(m string) string {
			if m == "$$" {
				return "$"
			}
			name := ""
			if i, ok := refs.token(m); ok {
				name = refs.names[i]
			} else {
				name = m[2 : len(m)-1]
			}
			v, ok := lookup(name)
			if !ok {
				*errs = append(*errs, fmt.Sprintf("%s:%d: environment variable %s is not set", file, n.Line, name))
			}
			return v
		})
		if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			// Re-resolve the type of a plain scalar from its expanded
			// value, so `port: ${PORT}` can fill an int; a value that
			// reads as null ("", "~", "null") stays the string it is.
			n.Tag = ""
			if n.ShortTag() == "!!null" {
				n.Tag = "!!str"
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			restoreKey(n.Content[i], refs)
			expandEnv(file, n.Content[i+1], refs, lookup, errs)
		}
	default:
		for _, c := range n.Content {
			expandEnv(file, c, refs, lookup, errs)
		}
	}
}

func restoreKey(k *yaml.Node, refs *envRefs) {
	if k.Kind == yaml.ScalarNode {
		k.Value = refs.restore(k.Value)
		return
	}
	for _, c := range k.Content {
		restoreKey(c, refs)
	}
}

// lookupEnv is os.LookupEnv; a variable so tests can supply their own.
var lookupEnv = os.LookupEnv
