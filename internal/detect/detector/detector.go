// Package detector runs the Sigma engine on Defender records and feeds the
// matches to the alert grouping: the glue a pipeline worker calls for
// each event.
package detector

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
	"github.com/defender-intake/defender-intake/internal/detect/fieldmap"
	"github.com/defender-intake/defender-intake/internal/detect/rules"
	"github.com/defender-intake/defender-intake/internal/detect/sigma"
)

// Shared is the part of detection shared by all workers: the compiled
// rules and the alert grouping with its sinks. Safe for concurrent use.
type Shared struct {
	mapping *fieldmap.Mapping
	cur     atomic.Pointer[compiled]

	cfg   rules.Config // for ReloadRules
	log   *slog.Logger
	async *alerts.Async    // webhook queue, closed by Close
	file  *alerts.FileSink // alerts file, closed by Close

	mu      sync.Mutex // guards the grouper, the correlators and sink writes
	grouper *alerts.Grouper
	sinks   []alerts.AlertSink
}

// compiled is one generation of rules; Reload swaps it atomically and
// workers pick the new one up at their next event.
type compiled struct {
	eng        *sigma.Engine
	ruleKey    map[*sigma.Rule]ruleKeys
	correlator *sigma.Correlator // guarded by Shared.mu
}

// ruleKeys are the Event keys of a rule's alert attributes.
type ruleKeys struct {
	groupBy []string
	level   string
	title   string
	service string
}

// entity keys: ECS names first (normalized documents), raw Defender
// properties as the fallback (when only the raw record is at hand).
var (
	hostFields = []string{"host.name", "properties.DeviceName"}
	userFields = []string{"user.name", "properties.AccountName", "properties.InitiatingProcessAccountName"}
)

// NewShared prepares detection with an engine, its mapping, the alert
// grouping configuration and the sinks new and updated alerts go to.
func NewShared(eng *sigma.Engine, m *fieldmap.Mapping, cfg alerts.Config, sinks ...alerts.AlertSink) *Shared {
	s := &Shared{mapping: m, grouper: alerts.NewGrouper(cfg), sinks: sinks}
	s.cur.Store(s.compile(eng))
	return s
}

// Reload switches to a new engine (compiled with the same Mapping), for
// SIGHUP. Open alerts are kept, and so are the windows of correlation
// rules that are still loaded unchanged in shape.
func (s *Shared) Reload(eng *sigma.Engine) {
	next := s.compile(eng)
	s.mu.Lock()
	next.correlator.Restore(s.cur.Load().correlator.Snapshot())
	s.cur.Store(next)
	s.mu.Unlock()
}

// CorrelationState returns the open correlation windows, to save at
// shutdown (see sigma.CorrelatorState).
func (s *Shared) CorrelationState() sigma.CorrelatorState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur.Load().correlator.Snapshot()
}

// RestoreCorrelations reopens saved correlation windows at startup and
// returns how many groups were restored.
func (s *Shared) RestoreCorrelations(st sigma.CorrelatorState) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur.Load().correlator.Restore(st)
}

func (s *Shared) compile(eng *sigma.Engine) *compiled {
	c := &compiled{eng: eng, ruleKey: map[*sigma.Rule]ruleKeys{}, correlator: eng.NewCorrelator(0)}
	m := s.mapping
	for _, r := range eng.Rules() {
		var k ruleKeys
		for _, f := range r.GroupBy {
			if key, ok := m.Field(r.Logsource, f); ok {
				k.groupBy = append(k.groupBy, key)
			}
		}
		if r.LevelField != "" {
			k.level, _ = m.Field(r.Logsource, r.LevelField)
		}
		if r.TitleField != "" {
			k.title, _ = m.Field(r.Logsource, r.TitleField)
		}
		if r.ServiceField != "" {
			k.service, _ = m.Field(r.Logsource, r.ServiceField)
		}
		c.ruleKey[r] = k
	}
	return c
}

// Engine returns the current compiled rules.
func (s *Shared) Engine() *sigma.Engine { return s.cur.Load().eng }

// Restore reopens alerts loaded from a store (see alerts.Grouper.Restore).
func (s *Shared) Restore(as []alerts.Alert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grouper.Restore(as)
}

// Worker evaluates events for one goroutine.
type Worker struct {
	s       *Shared
	c       *compiled
	x       *sigma.Evaluator
	rec     *fieldmap.Record
	matches []*sigma.Rule
	hostKey []string
	userKey []string
}

// NewWorker returns a Worker; create one per goroutine.
func (s *Shared) NewWorker() *Worker {
	w := &Worker{s: s, rec: s.mapping.NewRecord()}
	ecs := sigma.Logsource{Product: "microsoft_defender_xdr"}
	for _, f := range hostFields {
		k, _ := s.mapping.Field(ecs, f)
		w.hostKey = append(w.hostKey, k)
	}
	for _, f := range userFields {
		k, _ := s.mapping.Field(ecs, f)
		w.userKey = append(w.userKey, k)
	}
	return w
}

// Skip reports whether records of category ("AdvancedHunting-EmailEvents",
// normalize.Meta.Category) can be skipped: no loaded rule applies to their
// table, so Process would only parse them to find nothing.
func (w *Worker) Skip(category string) bool {
	return !w.s.cur.Load().eng.HasRules(strings.TrimPrefix(category, "AdvancedHunting-"))
}

// Match evaluates one event: raw is the Defender record, ecs its
// normalized document (nil if none). The result is valid until the next
// call. An error means raw is not a JSON object (dead-letter it).
func (w *Worker) Match(raw, ecs []byte) ([]*sigma.Rule, error) {
	if err := w.rec.Reset(raw, ecs); err != nil {
		return nil, err
	}
	if c := w.s.cur.Load(); c != w.c {
		w.c, w.x = c, c.eng.NewEvaluator()
	}
	w.matches = w.x.Match(w.rec, w.matches[:0])
	return w.matches, nil
}

// Process evaluates one event and turns its matches into alerts written
// to the sinks. eventID identifies the event in the store; t is its time.
// It returns the matched rules (valid until the next call). Sink errors
// are returned joined, after every sink got the alert.
func (w *Worker) Process(ctx context.Context, raw, ecs []byte, eventID string, t time.Time) ([]*sigma.Rule, error) {
	rules, err := w.Match(raw, ecs)
	if err != nil || len(rules) == 0 {
		return rules, err
	}
	var errs []error
	write := func(m alerts.Match, what string) {
		a, change := w.s.grouper.Observe(m)
		for _, sink := range w.s.sinks {
			if err := sink.WriteAlert(ctx, a, change); err != nil {
				errs = append(errs, fmt.Errorf("alert %s (%s): %w", a.ID, what, err))
			}
		}
	}
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	for _, r := range rules {
		if !r.CorrelationOnly {
			write(w.match(r, eventID, t), "rule "+r.ID)
		}
	}
	for _, f := range w.c.correlator.Observe(w.x, rules, t) {
		c := f.Correlation
		write(alerts.Match{
			RuleID: c.ID, RuleTitle: c.Title, Author: c.Author, Level: c.Level, Tags: c.ATTACK(),
			GroupKey: strings.Join(f.Group, "|"), Host: w.first(w.hostKey), User: w.first(w.userKey),
			EventID: eventID, Time: t,
		}, "correlation "+c.ID)
	}
	if len(errs) > 0 {
		return rules, fmt.Errorf("detector: %d alert write(s) failed: %w", len(errs), errs[0])
	}
	return rules, nil
}

// Correlate feeds the rules the last Match returned to the correlation
// rules, at event time t, and returns those that fired (valid until the
// next call). Process does this itself; Correlate is for callers that
// only Match (the rules test command).
func (w *Worker) Correlate(matched []*sigma.Rule, t time.Time) []sigma.Fired {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.c.correlator.Observe(w.x, matched, t)
}

// Describe returns what an alert for rule r on the current event (of the
// last Match) would carry: effective level, Defender title and service,
// entity and grouping key.
func (w *Worker) Describe(r *sigma.Rule) alerts.Match {
	return w.match(r, "", time.Time{})
}

func (w *Worker) match(r *sigma.Rule, eventID string, t time.Time) alerts.Match {
	k := w.c.ruleKey[r]
	m := alerts.Match{
		RuleID: r.ID, RuleTitle: r.Title, Author: r.Author, Level: r.Level, Tags: r.ATTACK(),
		Host: w.first(w.hostKey), User: w.first(w.userKey), EventID: eventID, Time: t,
	}
	for _, key := range k.groupBy {
		if v := w.first([]string{key}); v != "" {
			if m.GroupKey != "" {
				m.GroupKey += "|"
			}
			m.GroupKey += v
		}
	}
	if k.level != "" {
		if l := alerts.NormalizeLevel(w.first([]string{k.level})); l != "" {
			m.Level = l
		}
	}
	if k.title != "" {
		m.Title = w.first([]string{k.title})
	}
	if k.service != "" {
		m.Service = w.first([]string{k.service})
	}
	return m
}

// first returns the first non-empty value among keys.
func (w *Worker) first(keys []string) string {
	for _, k := range keys {
		if k == "" {
			continue
		}
		vals, ok := w.rec.Get(k)
		if !ok {
			continue
		}
		for _, v := range vals {
			if v.Kind != sigma.KindNull && v.S != "" {
				return v.S
			}
		}
	}
	return ""
}
