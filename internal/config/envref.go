package config

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"sort"
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

// "$${NAME}" is the escape of a literal "${NAME}": it is swapped for a
// token too, or its '{' would break a flow collection. A "$$" before
// anything else stays as it is until after parsing.
var envRef = regexp.MustCompile(`\$\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// envRefs maps the tokens of one file back to the variable names.
type envRefs struct {
	prefix string   // not found anywhere in the file
	names  []string // token i stands for ${names[i]}, or for the literal "${names[i]}" when literal[i]
	// literal[i] is set for a token that stands for an escaped $${NAME}.
	literal []bool
	match   *regexp.Regexp
	// values are the values substituted, by variable name: messages
	// show the reference instead (see redactor).
	values map[string]string
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
		literal := m[1] == '$'
		if literal {
			m = m[1:]
		}
		refs.names = append(refs.names, string(m[2:len(m)-1]))
		refs.literal = append(refs.literal, literal)
		return []byte(refs.prefix + strconv.Itoa(len(refs.names)-1) + "_")
	})
	// The same grammar as envRef plus the tokens: "${NAME}" can still
	// appear in a value after parsing (written with escapes in a quoted
	// string), and was always expanded there. A "${" that is none of
	// them (not closed, a name with other characters, a shell default
	// "${X:-y}") is matched last, to be refused rather than kept as text.
	refs.match = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|` + refs.prefix + `([0-9]+)_|\$\{`)
	refs.values = map[string]string{}
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
			if r.literal[i] {
				return "$${" + r.names[i] + "}"
			}
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
//
// key is where n is in the file ("sources[0].sasl.password"), for the
// messages: a line can hold several values (a flow mapping).
func expandEnv(file, key string, n *yaml.Node, refs *envRefs, lookup func(string) (string, bool), errs *[]string) {
	switch n.Kind {
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") && !strings.Contains(n.Value, refs.prefix) {
			return
		}
		n.Value = refs.match.ReplaceAllStringFunc(n.Value, func(m string) string {
			if m == "$$" {
				return "$"
			}
			if m == "${" {
				*errs = append(*errs, fmt.Sprintf("%s:%d: %q is not a reference ${NAME} (NAME of letters, digits and _, closed by '}'; no defaults as in ${NAME:-x}): write $${ for a literal \"${\"%s", file, n.Line, restOfRef(n.Value, refs), keySuffix(key)))
				return m
			}
			name := ""
			if i, ok := refs.token(m); ok {
				name = refs.names[i]
				if refs.literal[i] {
					return "${" + name + "}"
				}
			} else {
				name = m[2 : len(m)-1]
			}
			v, ok := lookup(name)
			if !ok {
				*errs = append(*errs, fmt.Sprintf("%s:%d: environment variable %s is not set%s", file, n.Line, name, keySuffix(key)))
			}
			refs.values[name] = v
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
			k := n.Content[i].Value
			if key != "" {
				k = key + "." + k
			}
			expandEnv(file, k, n.Content[i+1], refs, lookup, errs)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			expandEnv(file, key+"["+strconv.Itoa(i)+"]", c, refs, lookup, errs)
		}
	default:
		for _, c := range n.Content {
			expandEnv(file, key, c, refs, lookup, errs)
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

// keySuffix is " (in KEY)" for a message about the value of KEY, or "".
func keySuffix(key string) string {
	if key == "" {
		return ""
	}
	return " (in " + key + ")"
}

// restOfRef returns the file's text of a value from its first "${" that
// is not a reference, up to 40 bytes, for the message (the file's text:
// the references in it are still tokens, no value is shown).
func restOfRef(v string, refs *envRefs) string {
	v = refs.restore(v)
	for _, loc := range refScan.FindAllStringIndex(v, -1) {
		if v[loc[0]:loc[1]] == "${" {
			v = v[loc[0]:]
			break
		}
	}
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	return v
}

var refScan = regexp.MustCompile(`\$\$|\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$\{`)

// redactor replaces, in a message, every value substituted for a
// ${NAME} with the reference itself: any variable may hold a secret, and
// one given to the wrong key (a connection string as brokers or listen)
// would otherwise be printed by the error about it. yaml.v3 quotes long
// values by their first 7 bytes and "...": that form is replaced too.
// Values shorter than 4 bytes are left (they would replace common text).
func (r *envRefs) redactor() *strings.Replacer {
	type pair struct{ from, to string }
	var pairs []pair
	for name, v := range r.values {
		if len(v) < 4 {
			continue
		}
		pairs = append(pairs, pair{v, "${" + name + "}"})
		if len(v) > 10 {
			pairs = append(pairs, pair{v[:7] + "...", "${" + name + "}..."})
		}
	}
	// Longest first, so a value is replaced rather than a part of it.
	sort.Slice(pairs, func(i, j int) bool { return len(pairs[i].from) > len(pairs[j].from) })
	var args []string
	for _, p := range pairs {
		args = append(args, p.from, p.to)
	}
	return strings.NewReplacer(args...)
}

// lookupEnv is os.LookupEnv; a variable so tests can supply their own.
var lookupEnv = os.LookupEnv
