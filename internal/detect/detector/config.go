package detector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
	"github.com/defender-intake/defender-intake/internal/detect/rules"
	"github.com/defender-intake/defender-intake/internal/detect/sigma"
)

// Config is the `detection:` section of the service configuration.
type Config struct {
	Rules  rules.Config  `yaml:"rules"`
	Alerts alerts.Config `yaml:"alerts"`
	// Webhook, when set, posts new alerts to an HTTP endpoint.
	Webhook *alerts.WebhookConfig `yaml:"webhook"`
	// File, when set, appends every alert change to this NDJSON file.
	File string `yaml:"file"`
}

// Defaults returns the default detection configuration: built-in rules
// only, default grouping, no webhook.
func Defaults() Config {
	return Config{Alerts: alerts.Defaults()}
}

// Validate reports invalid settings without changing them.
func (c Config) Validate() error {
	var errs []error
	if err := c.Alerts.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Webhook != nil {
		if err := c.Webhook.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	for name := range c.Rules.Placeholders {
		if name == "" {
			errs = append(errs, errors.New("detection: empty placeholder name"))
		}
	}
	return errors.Join(errs...)
}

// New loads the rules and builds the detection shared by the workers,
// writing alerts to the webhook (when configured) and the given sinks
// (the store). Skipped rules are logged with their reasons, not fatal.
func New(cfg Config, log *slog.Logger, sinks ...alerts.AlertSink) (*Shared, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	eng, m, err := rules.Load(cfg.Rules)
	if err != nil {
		return nil, fmt.Errorf("detection: %w", err)
	}
	logLoaded(log, "detection rules loaded", eng, cfg.Rules)
	var file *alerts.FileSink
	if cfg.File != "" {
		if file, err = alerts.OpenFileSink(cfg.File); err != nil {
			return nil, err
		}
		sinks = append(sinks, file)
	}
	var async *alerts.Async
	if cfg.Webhook != nil {
		w, err := alerts.NewWebhook(*cfg.Webhook)
		if err != nil {
			if file != nil {
				file.Close()
			}
			return nil, err
		}
		// Detection must not wait on the network: deliver from a queue.
		async = alerts.NewAsync(w, 0, log)
		sinks = append(sinks, async)
	}
	s := NewShared(eng, m, cfg.Alerts, sinks...)
	s.cfg = cfg.Rules
	s.log = log
	s.async = async
	s.file = file
	return s, nil
}

// Close delivers the alerts still queued for the webhook, until ctx ends,
// and closes the alerts file.
func (s *Shared) Close(ctx context.Context) error {
	var errs []error
	if s.async != nil {
		errs = append(errs, s.async.Close(ctx))
	}
	if s.file != nil {
		errs = append(errs, s.file.Close())
	}
	return errors.Join(errs...)
}

// ReloadRules reads and compiles the rules again (on SIGHUP). On error
// the current rules stay in force.
func (s *Shared) ReloadRules() error {
	eng, _, err := rules.LoadWith(s.cfg, s.mapping)
	if err != nil {
		return fmt.Errorf("detection: reloading rules: %w", err)
	}
	s.Reload(eng)
	if s.log != nil {
		logLoaded(s.log, "detection rules reloaded", eng, s.cfg)
	}
	return nil
}

// logLoaded logs one line for a rule load: a rule set from SigmaHQ skips
// dozens of rules (fields or modifiers without an equivalent), and a
// warning per rule at every start buried the service's own lines. The
// reasons are at DEBUG, and in full from `rules check`, which the line
// names.
func logLoaded(log *slog.Logger, msg string, eng *sigma.Engine, cfg rules.Config) {
	skipped := eng.Skipped()
	for _, s := range skipped {
		log.Debug("rule skipped", "path", s.Path, "id", s.ID, "reason", s.Reason, "detail", s.Detail)
	}
	attrs := []any{"rules", len(eng.Rules()), "correlations", len(eng.Correlations()), "skipped", len(skipped)}
	if len(skipped) > 0 {
		check := "defender-intake rules check"
		for _, f := range cfg.FieldMaps {
			check += " --field-map " + f
		}
		if cfg.PlaceholdersFile != "" {
			check += " --placeholders " + cfg.PlaceholdersFile
		}
		if len(cfg.Dirs) == 0 {
			check += " DIR"
		}
		for _, d := range cfg.Dirs {
			check += " " + d
		}
		attrs = append(attrs, "skip_reasons", "`"+check+"` (or log.level debug)")
	}
	log.Info(msg, attrs...)
}
