// Package config loads the YAML configuration of `defender-intake run`:
// strict (an unknown key is an error naming file, line and key), with
// ${ENV} expansion for secrets, defaults set in one place (Default here,
// and each component's NewSection), and validation that does not mutate.
package config

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/defender-intake/defender-intake/internal/httpguard"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/source"
)

// Config is the whole service configuration.
type Config struct {
	Server     Server      `yaml:"server"`
	Log        Log         `yaml:"log"`
	Pipeline   Pipeline    `yaml:"pipeline"`
	DeadLetter DeadLetter  `yaml:"dead_letter"`
	Sources    []Component `yaml:"sources"`
	Sinks      []Component `yaml:"sinks"`

	// File is the path the config was loaded from, for messages.
	File string `yaml:"-"`
	// lines holds the line of each key of the top-level sections
	// ("log.level"), for messages; nil for a Config built in code.
	lines map[string]int
	// redact shows the values taken from the environment as their
	// ${NAME} in messages; nil for a Config built in code.
	redact *strings.Replacer
}

// Redact returns s with every value the file took from the environment
// replaced by its ${NAME}, and the secret parts of connection strings
// written in the file itself (AccountKey=..., SharedAccessKey=...,
// password=...) by [REDACTED]: for whatever prints values of the config,
// an error about a value given to the wrong key included.
func (c *Config) Redact(s string) string {
	if c.redact != nil {
		s = c.redact.Replace(s)
	}
	return secretPart.ReplaceAllString(s, "${1}[REDACTED]")
}

// secretPart is the value of a key=value pair of a connection string or
// URL that is a credential.
var secretPart = regexp.MustCompile(`(?i)((?:AccountKey|SharedAccessKey|SharedAccessSignature|sig|password|pwd|secret|token)=)[^;&"'\s]+`)

// Server is the HTTP listener for /metrics, /healthz, /readyz and the
// handlers other components mount.
type Server struct {
	// Listen is host:port; empty disables the listener. Loopback by
	// default: exposing it is a deliberate choice, and when the server
	// serves event data (a store or detection sink: the Events page,
	// /api/events, /api/alerts) it needs a token (httpguard).
	Listen string `yaml:"listen"`
	// Token is the bearer token of the Events page and its API; when
	// unset, DEFENDER_INTAKE_WEB_TOKEN is used.
	Token Secret `yaml:"token"`
}

// WebToken is the API token: server.token, else $DEFENDER_INTAKE_WEB_TOKEN.
func (s Server) WebToken() string {
	if s.Token.IsSet() {
		return s.Token.Value()
	}
	return strings.TrimSpace(os.Getenv(httpguard.TokenEnv))
}

// dataSinkTypes are the sink types whose data `run` serves on its HTTP
// server: the store (Events page and API) and detection (/api/alerts).
var dataSinkTypes = map[string]bool{"store": true, "detection": true}

// servesData reports whether run's HTTP server serves event data.
func (c *Config) servesData() bool {
	for _, s := range c.Sinks {
		if dataSinkTypes[s.Type] {
			return true
		}
	}
	return false
}

// Log configures log/slog output on stderr.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Pipeline bounds the work in flight between sources and sinks.
type Pipeline struct {
	Workers      int           `yaml:"workers"`       // 0: one per CPU
	QueueBatches int           `yaml:"queue_batches"` // batches waiting for a worker
	RetryInitial time.Duration `yaml:"retry_initial"` // first backoff of a failing sink
	RetryMax     time.Duration `yaml:"retry_max"`     // backoff ceiling
	DrainTimeout time.Duration `yaml:"drain_timeout"` // delivery time allowed after SIGTERM
}

// DeadLetter says where undecodable input goes.
type DeadLetter struct {
	Path string `yaml:"path"`
}

// Component is one entry of `sources` or `sinks`: its name, its type and
// the type's own section, decoded from the entry's other keys.
type Component struct {
	Name    string
	Type    string
	Section interface{ Validate() error }
	// Line is where the entry starts in the file, for messages.
	Line int
}

// Default returns the configuration used for every key the file omits.
func Default() Config {
	return Config{
		Server:     Server{Listen: "127.0.0.1:9464"},
		Log:        Log{Level: "info", Format: "text"},
		Pipeline:   Pipeline{Workers: 0, QueueBatches: 8, RetryInitial: 200 * time.Millisecond, RetryMax: 30 * time.Second, DrainTimeout: 30 * time.Second},
		DeadLetter: DeadLetter{Path: "data/dead-letter.ndjson"},
	}
}

// rawConfig is the file's top level; sources and sinks stay nodes until
// their type is known.
type rawConfig struct {
	Server     *Server     `yaml:"server"`
	Log        *Log        `yaml:"log"`
	Pipeline   *Pipeline   `yaml:"pipeline"`
	DeadLetter *DeadLetter `yaml:"dead_letter"`
	Sources    []yaml.Node `yaml:"sources"`
	Sinks      []yaml.Node `yaml:"sinks"`
}

// Load reads, expands and strictly decodes the file at path. It does not
// validate: call Validate.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, b)
}

// Parse is Load on bytes already read; file names them in messages.
func Parse(file string, b []byte) (*Config, error) {
	protected, refs := protectEnvRefs(b)
	pdoc, err := parseDocument(file, protected)
	if err != nil {
		return nil, err
	}
	doc := *pdoc
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty config", file)
	}
	var errs []string
	expandEnv(file, "", &doc, refs, lookupEnv, &errs)
	resolveMerges(file, &doc, &errs)
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	cfg := Default()
	cfg.File = file
	cfg.lines = keyLines(&doc)
	cfg.redact = refs.redactor()
	raw := rawConfig{Server: &cfg.Server, Log: &cfg.Log, Pipeline: &cfg.Pipeline, DeadLetter: &cfg.DeadLetter}
	if err := decodeStrict(file, &doc, &raw); err != nil {
		return nil, errors.New(cfg.Redact(err.Error()))
	}
	var all []error
	for i := range raw.Sources {
		c, err := decodeComponent(file, &raw.Sources[i], "source", func(typ string) (func() interface{ Validate() error }, bool) {
			f, ok := source.Lookup(typ)
			return func() interface{ Validate() error } { return f.NewSection() }, ok
		}, source.Types)
		if err != nil {
			all = append(all, err)
			continue
		}
		cfg.Sources = append(cfg.Sources, c)
	}
	for i := range raw.Sinks {
		c, err := decodeComponent(file, &raw.Sinks[i], "sink", func(typ string) (func() interface{ Validate() error }, bool) {
			f, ok := sink.Lookup(typ)
			return func() interface{ Validate() error } { return f.NewSection() }, ok
		}, sink.Types)
		if err != nil {
			all = append(all, err)
			continue
		}
		cfg.Sinks = append(cfg.Sinks, c)
	}
	if len(all) > 0 {
		return nil, errors.New(cfg.Redact(errors.Join(all...).Error()))
	}
	return &cfg, nil
}

// decodeComponent reads name and type from an entry, then decodes the
// remaining keys strictly into the type's section.
func decodeComponent(file string, n *yaml.Node, kind string, lookup func(string) (func() interface{ Validate() error }, bool), types func() string) (Component, error) {
	for n.Kind == yaml.AliasNode { // "- *defaults"
		n = n.Alias
	}
	c := Component{Line: n.Line}
	if n.Kind != yaml.MappingNode {
		return c, fmt.Errorf("%s:%d: a %s is a mapping with name, type and the type's keys", file, n.Line, kind)
	}
	rest := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "name":
			c.Name = v.Value
		case "type":
			c.Type = v.Value
		default:
			rest.Content = append(rest.Content, k, v)
		}
	}
	if c.Type == "" {
		return c, fmt.Errorf("%s:%d: %s %q: missing key \"type\" (one of: %s)", file, n.Line, kind, c.Name, types())
	}
	newSection, ok := lookup(c.Type)
	if !ok {
		return c, fmt.Errorf("%s:%d: %s %q: unknown type %q (one of: %s)", file, n.Line, kind, c.Name, c.Type, types())
	}
	if c.Name == "" {
		c.Name = c.Type
	}
	c.Section = newSection()
	if err := decodeStrict(file, rest, c.Section); err != nil {
		return c, fmt.Errorf("%s %q: %w", kind, c.Name, err)
	}
	return c, nil
}

// Validate checks the whole configuration without changing it and
// reports every problem at once, each with the line it is about.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{c.at(key)}, a...)...))
	}
	if c.Server.Listen != "" {
		if err := CheckListen(c.Server.Listen); err != nil {
			bad("server.listen", "server.listen: %v", err)
		} else if c.servesData() {
			if err := httpguard.RequireToken(c.Server.Listen, c.Server.WebToken() != "", "server.token or $"+httpguard.TokenEnv); err != nil {
				bad("server.listen", "server.listen: the Events page and its API (store/detection sink): %v", err)
			}
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "log.format: %q is not one of text, json", c.Log.Format)
	}
	p := c.Pipeline
	if p.Workers < 0 {
		bad("pipeline.workers", "pipeline.workers: must be >= 0 (0: one per CPU)")
	}
	if p.QueueBatches < 1 {
		bad("pipeline.queue_batches", "pipeline.queue_batches: must be >= 1")
	}
	if p.RetryInitial <= 0 {
		bad("pipeline.retry_initial", "pipeline.retry_initial: must be > 0")
	}
	if p.RetryMax < p.RetryInitial {
		bad("pipeline.retry_max", "pipeline.retry_max: must be >= retry_initial (%s)", p.RetryInitial)
	}
	if p.DrainTimeout <= 0 {
		bad("pipeline.drain_timeout", "pipeline.drain_timeout: must be > 0")
	}
	if c.DeadLetter.Path == "" {
		bad("dead_letter.path", "dead_letter.path: required")
	}
	if len(c.Sources) == 0 {
		bad(c.present("sources"), "sources: at least one is required%s", c.absent("sources"))
	}
	if len(c.Sinks) == 0 {
		bad(c.present("sinks"), "sinks: at least one is required%s", c.absent("sinks"))
	}
	for _, group := range []struct {
		kind string
		list []Component
	}{{"source", c.Sources}, {"sink", c.Sinks}} {
		seen := map[string]bool{}
		for _, comp := range group.list {
			if seen[comp.Name] {
				errs = append(errs, fmt.Errorf("%s:%d: %s name %q used twice", c.File, comp.Line, group.kind, comp.Name))
			}
			seen[comp.Name] = true
			if err := comp.Section.Validate(); err != nil {
				for _, line := range strings.Split(err.Error(), "\n") {
					errs = append(errs, fmt.Errorf("%s:%d: %s %q (%s): %s", c.File, comp.Line, group.kind, comp.Name, comp.Type, line))
				}
			}
		}
	}
	errs = append(errs, c.samePaths()...)
	if err := errors.Join(errs...); err != nil {
		return errors.New(c.Redact(err.Error()))
	}
	return nil
}

// present returns key when the file has it, else "" (the top of the
// file), for the line of a message about a required section.
func (c *Config) present(key string) string {
	if _, ok := c.lines[key]; ok {
		return key
	}
	return ""
}

// absent explains a required section the file does not have at all.
func (c *Config) absent(key string) string {
	if _, ok := c.lines[key]; ok || c.lines == nil {
		return ""
	}
	return " (the file has no " + key + ": key)"
}
