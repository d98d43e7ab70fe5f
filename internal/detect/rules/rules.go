// Package rules finds rule files (directories given by the user, the
// built-in rules embedded in the binary) and compiles them with the
// Defender field mapping into a Sigma engine.
package rules

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/defender-intake/defender-intake/internal/detect/fieldmap"
	"github.com/defender-intake/defender-intake/internal/detect/sigma"
)

//go:embed builtin/*.yml
var builtinFS embed.FS

// Builtin returns the rules shipped with the binary.
func Builtin() []sigma.Source {
	srcs, err := readFS(builtinFS, "builtin", "builtin:")
	if err != nil {
		panic("rules: built-in rules unreadable: " + err.Error())
	}
	return srcs
}

// ReadDirs returns every .yml/.yaml file under the directories (or the
// files themselves when a path is a file), sorted by path.
func ReadDirs(paths ...string) ([]sigma.Source, error) {
	var out []sigma.Source
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("reading rules: %w", err)
		}
		if !st.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("reading rules: %w", err)
			}
			out = append(out, sigma.Source{Path: p, Data: data})
			continue
		}
		srcs, err := readFS(os.DirFS(p), ".", p+string(filepath.Separator))
		if err != nil {
			return nil, fmt.Errorf("reading rules in %s: %w", p, err)
		}
		out = append(out, srcs...)
	}
	return out, nil
}

func readFS(fsys fs.FS, root, prefix string) ([]sigma.Source, error) {
	var out []sigma.Source
	err := fs.WalkDir(fsys, root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		ext := strings.ToLower(filepath.Ext(path))
		if d.IsDir() || (ext != ".yml" && ext != ".yaml") {
			return nil
		}
		data, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		name := path
		if root != "." {
			name = strings.TrimPrefix(path, root+"/")
		}
		out = append(out, sigma.Source{Path: prefix + filepath.FromSlash(name), Data: data})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}

// Config says which rules to load.
type Config struct {
	// Dirs are rule directories or files.
	Dirs []string `yaml:"dirs"`
	// NoBuiltin leaves out the built-in rules.
	NoBuiltin bool `yaml:"no_builtin"`
	// FieldMaps are extra field mapping files (see docs/detection.md).
	FieldMaps []string `yaml:"field_maps"`
	// Placeholders are the values of %name% for the expand modifier.
	Placeholders map[string][]string `yaml:"placeholders"`
	// PlaceholdersFile is a YAML file of more placeholders (name: [values]);
	// Placeholders given inline win over the file's.
	PlaceholdersFile string `yaml:"placeholders_file"`
}

// ReadPlaceholders reads a placeholder file: a map from placeholder name
// to its list of values (Sigma strings, wildcards allowed).
func ReadPlaceholders(path string) (map[string][]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading placeholders: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var out map[string][]string
	if err := dec.Decode(&out); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("placeholders %s: %w", path, err)
	}
	return out, nil
}

// Load reads the field mappings and the configured rules and compiles
// them.
func Load(cfg Config) (*sigma.Engine, *fieldmap.Mapping, error) {
	m, err := fieldmap.New(cfg.FieldMaps...)
	if err != nil {
		return nil, nil, err
	}
	return LoadWith(cfg, m)
}

// LoadWith compiles the configured rules with an existing mapping (rule
// reloads keep the mapping, whose Records the workers hold).
func LoadWith(cfg Config, m *fieldmap.Mapping) (*sigma.Engine, *fieldmap.Mapping, error) {
	var err error
	placeholders := map[string][]string{}
	if cfg.PlaceholdersFile != "" {
		if placeholders, err = ReadPlaceholders(cfg.PlaceholdersFile); err != nil {
			return nil, nil, err
		}
	}
	for k, v := range cfg.Placeholders {
		placeholders[k] = v
	}
	var srcs []sigma.Source
	if !cfg.NoBuiltin {
		srcs = Builtin()
	}
	dirSrcs, err := ReadDirs(cfg.Dirs...)
	if err != nil {
		return nil, nil, err
	}
	srcs = append(srcs, dirSrcs...)
	e, err := sigma.Compile(srcs, sigma.Options{Mapper: m, Placeholders: placeholders})
	if err != nil {
		return nil, nil, fmt.Errorf("compiling rules: %w", err)
	}
	return e, m, nil
}
