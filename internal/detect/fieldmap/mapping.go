// Package fieldmap maps Sigma logsources and field names (SigmaHQ's
// Sysmon/Windows names) to Microsoft Defender XDR Advanced Hunting records,
// and provides the event the Sigma engine evaluates: a raw Defender record
// plus, when available, its normalized ECS document.
//
// The mapping is data: an embedded YAML file (defender.yml) that users
// extend with their own files.
package fieldmap

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/defender-intake/defender-intake/internal/detect/sigma"
)

//go:embed defender.yml
var builtin []byte

// File is the YAML layout of a mapping file.
type File struct {
	Logsources []LogsourceMap         `yaml:"logsources"`
	Fieldsets  map[string]FieldsetMap `yaml:"fieldsets"`
	Platform   *PlatformMap           `yaml:"platform"`
}

// PlatformMap tells a record's operating system family, so that a rule
// for one product (windows) never runs on another's events (a Linux
// process in DeviceProcessEvents): Defender's tables mix them.
type PlatformMap struct {
	// Paths are properties whose first value that tells decides: a
	// drive-letter or UNC path is "windows", a path starting with / is
	// "posix" (made "linux" or "macos" when the device's DeviceInfo record
	// said so); without one, the device's DeviceInfo decides, else the
	// platform is "unknown".
	Paths []string `yaml:"paths"`
	// Products maps a Sigma product to the platforms whose records its
	// rules meet.
	Products map[string][]string `yaml:"products"`
}

// LogsourceMap says which Defender records a Sigma logsource describes
// and which fieldsets name their fields.
type LogsourceMap struct {
	Category    string   `yaml:"category"`
	Service     string   `yaml:"service"`
	Products    []string `yaml:"products"`
	Tables      []string `yaml:"tables"`
	ActionTypes []string `yaml:"action_types"`
	Fieldsets   []string `yaml:"fieldsets"`
}

// FieldsetMap maps Sigma field names to field specs.
type FieldsetMap map[string]FieldSpec

// FieldSpec is how one Sigma field is read from a record: a property name
// or one of the derivations documented in defender.yml.
type FieldSpec struct {
	Prop         string            `yaml:"-" json:"prop,omitempty"`
	Join         []string          `yaml:"join" json:"join,omitempty"`
	Sep          string            `yaml:"sep" json:"sep,omitempty"`
	Hashes       []string          `yaml:"hashes" json:"hashes,omitempty"`
	Registry     []string          `yaml:"registry" json:"registry,omitempty"`
	RegistryData []string          `yaml:"registry_data" json:"registry_data,omitempty"`
	JSON         string            `yaml:"json" json:"json,omitempty"`
	Key          string            `yaml:"key" json:"key,omitempty"`
	TrimPrefix   string            `yaml:"trim_prefix" json:"trim_prefix,omitempty"`
	ActionIn     []string          `yaml:"action_in" json:"action_in,omitempty"`
	Map          string            `yaml:"map" json:"map,omitempty"`
	Values       map[string]string `yaml:"values" json:"values,omitempty"`
	URLHost      string            `yaml:"url_host" json:"url_host,omitempty"`
	ECS          string            `yaml:"ecs" json:"ecs,omitempty"`
	Platform     []string          `yaml:"platform" json:"platform,omitempty"`
}

// UnmarshalYAML accepts a plain property name or a strict derivation map.
func (f *FieldSpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		f.Prop = n.Value
		return nil
	}
	type plain FieldSpec
	var p plain
	// Re-encode and decode strictly so unknown keys are errors here too.
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*f = FieldSpec(p)
	return f.validate(n.Line)
}

func (f *FieldSpec) validate(line int) error {
	set := 0
	for _, b := range []bool{len(f.Join) > 0, len(f.Hashes) > 0, len(f.Registry) > 0, len(f.RegistryData) > 0,
		f.JSON != "", len(f.ActionIn) > 0, f.Map != "", f.URLHost != "", f.ECS != "", len(f.Platform) > 0} {
		if b {
			set++
		}
	}
	switch {
	case set != 1:
		return fmt.Errorf("line %d: a field spec needs exactly one of join, hashes, registry, registry_data, json, action_in, map, url_host, ecs, platform", line)
	case len(f.Registry) != 0 && len(f.Registry) != 2 && len(f.Registry) != 4:
		return fmt.Errorf("line %d: registry needs [key, value] or [key, value, previous key, previous value]", line)
	case len(f.RegistryData) != 0 && len(f.RegistryData) != 2:
		return fmt.Errorf("line %d: registry_data needs [data, type]", line)
	case f.JSON != "" && f.Key == "":
		return fmt.Errorf("line %d: json needs key", line)
	}
	return nil
}

// key identifies a spec: equal for the same derivation.
func (f FieldSpec) key() string {
	if f.Prop != "" {
		return "prop:" + f.Prop
	}
	b, _ := json.Marshal(f)
	return "spec:" + string(b)
}

// Mapping is a compiled set of mapping files. It implements sigma.Mapper
// and makes the Records the engine evaluates.
type Mapping struct {
	platform   PlatformMap
	devices    *deviceCache // DeviceId -> platform, from DeviceInfo records
	logsources []LogsourceMap
	fieldsets  map[string]FieldsetMap
	mu         sync.RWMutex
	specs      map[string]FieldSpec // Event key -> spec, filled while rules compile
	keys       map[string]string    // spec identity -> its short Event key
}

// Default returns the built-in mapping.
func Default() *Mapping {
	m, err := New()
	if err != nil {
		panic("fieldmap: built-in mapping is invalid: " + err.Error())
	}
	return m
}

// New returns the built-in mapping extended by the given files, in order.
func New(files ...string) (*Mapping, error) {
	m := &Mapping{fieldsets: map[string]FieldsetMap{}, specs: map[string]FieldSpec{}, keys: map[string]string{},
		devices: newDeviceCache(maxDevices)}
	if err := m.add("defender.yml (built-in)", builtin); err != nil {
		return nil, err
	}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading field mapping: %w", err)
		}
		if err := m.add(path, data); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// add merges one mapping file: unknown keys are errors naming the file.
func (m *Mapping) add(name string, data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("field mapping %s: %w", name, err)
	}
	if f.Platform != nil {
		m.platform = *f.Platform
	}
	for fs, fields := range f.Fieldsets {
		if m.fieldsets[fs] == nil {
			m.fieldsets[fs] = FieldsetMap{}
		}
		for k, v := range fields {
			m.fieldsets[fs][k] = v
		}
	}
	for _, ls := range f.Logsources {
		for _, fs := range ls.Fieldsets {
			if _, ok := m.fieldsets[fs]; !ok {
				return fmt.Errorf("field mapping %s: logsource %s uses unknown fieldset %q", name, lsLabel(ls), fs)
			}
		}
		replaced := false
		for i, old := range m.logsources {
			if old.Category == ls.Category && old.Service == ls.Service && slices.Equal(old.Products, ls.Products) {
				m.logsources[i], replaced = ls, true
			}
		}
		if !replaced {
			m.logsources = append(m.logsources, ls)
		}
	}
	return nil
}

func lsLabel(ls LogsourceMap) string {
	return fmt.Sprintf("products=%v category=%q service=%q", ls.Products, ls.Category, ls.Service)
}

// find returns the mapping entry of a rule's logsource.
func (m *Mapping) find(ls sigma.Logsource) (*LogsourceMap, error) {
	for i := range m.logsources {
		e := &m.logsources[i]
		if !strings.EqualFold(e.Category, ls.Category) || !strings.EqualFold(e.Service, ls.Service) {
			continue
		}
		if ls.Product == "" || slices.ContainsFunc(e.Products, func(p string) bool { return strings.EqualFold(p, ls.Product) }) {
			return e, nil
		}
	}
	return nil, fmt.Errorf("no Defender table for product=%q category=%q service=%q", ls.Product, ls.Category, ls.Service)
}

// Scope implements sigma.Mapper.
func (m *Mapping) Scope(ls sigma.Logsource) (sigma.Scope, error) {
	e, err := m.find(ls)
	if err != nil {
		return sigma.Scope{}, err
	}
	s := sigma.Scope{Tables: e.Tables, Require: map[string][]string{}}
	if len(e.ActionTypes) > 0 {
		s.Require[m.register(FieldSpec{Prop: "ActionType"})] = e.ActionTypes
	}
	if ps, ok := m.platform.Products[strings.ToLower(ls.Product)]; ok && len(m.platform.Paths) > 0 {
		s.Require[m.register(FieldSpec{Platform: m.platform.Paths})] = ps
	}
	return s, nil
}

// Field implements sigma.Mapper: the logsource's fieldsets first, then
// `properties.Name` for a raw property, then dotted names as ECS fields.
func (m *Mapping) Field(ls sigma.Logsource, name string) (string, bool) {
	if e, err := m.find(ls); err == nil {
		for _, fs := range e.Fieldsets {
			if spec, ok := m.fieldsets[fs][name]; ok {
				return m.register(spec), true
			}
		}
	}
	if p, ok := strings.CutPrefix(name, "properties."); ok && p != "" {
		return m.register(FieldSpec{Prop: p}), true
	}
	if strings.Contains(name, ".") {
		return m.register(FieldSpec{ECS: name}), true
	}
	return "", false
}

// register returns the Event key of a spec: a short "#n", since the
// record looks keys up in a map for every field of every event.
func (m *Mapping) register(spec FieldSpec) string {
	id := spec.key()
	m.mu.Lock()
	defer m.mu.Unlock()
	if k, ok := m.keys[id]; ok {
		return k
	}
	k := "#" + strconv.Itoa(len(m.keys))
	m.keys[id] = k
	m.specs[k] = spec
	return k
}

func (m *Mapping) spec(key string) (FieldSpec, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.specs[key]
	return s, ok
}
