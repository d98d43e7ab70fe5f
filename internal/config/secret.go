package config

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Secret is a credential (connection string, token). It is given in YAML
// as a string, usually "${ENV_VAR}", or as {file: PATH} to read it from a
// file (Kubernetes and systemd credentials). It never prints: String,
// slog and JSON show "[REDACTED]".
type Secret struct {
	value string
}

// NewSecret wraps v, for tests and programmatic configs.
func NewSecret(v string) Secret { return Secret{value: v} }

// Value returns the secret itself, for the one call that needs it.
func (s Secret) Value() string { return s.value }

// IsSet reports whether a non-empty secret was given.
func (s Secret) IsSet() bool { return s.value != "" }

func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return "[REDACTED]"
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON keeps secrets out of JSON dumps.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalYAML keeps secrets out of YAML dumps.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		s.value = n.Value
		return nil
	case yaml.MappingNode:
		var f struct {
			File string `yaml:"file"`
		}
		if len(n.Content) != 2 || n.Content[0].Value != "file" {
			return fmt.Errorf("line %d: a secret is a string or {file: PATH}", n.Line)
		}
		if err := n.Decode(&f); err != nil {
			return err
		}
		b, err := os.ReadFile(f.File)
		if err != nil {
			// The path is not secret; the content would be.
			return fmt.Errorf("line %d: read secret file: %w", n.Line, err)
		}
		s.value = strings.TrimRight(string(b), "\r\n")
		return nil
	}
	return fmt.Errorf("line %d: a secret is a string or {file: PATH}", n.Line)
}
