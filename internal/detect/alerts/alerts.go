// Package alerts turns rule matches into alerts an analyst can trust:
// matches of one rule on one entity (host, user) within a window are one
// alert with a count, so a noisy rule cannot flood; Defender's own alerts
// are grouped by their alert id. Alerts go to AlertSinks (the store, a
// webhook).
package alerts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Alert is the current state of one alert.
type Alert struct {
	// ID is stable for the alert's life: a hash of the rule id, the
	// grouping key and the first event time.
	ID        string `json:"id"`
	RuleID    string `json:"rule_id"`
	RuleTitle string `json:"rule_title"`
	// Title is the rule title, or Defender's own alert title for the
	// built-in Defender alert rules.
	Title string `json:"title"`
	Level string `json:"level"`
	// Author is the rule's author, shown with every alert: the Detection
	// Rule License of SigmaHQ rules requires it.
	Author string `json:"author,omitempty"`
	// Tags are the rule's MITRE ATT&CK tags (attack.*).
	Tags []string `json:"tags,omitempty"`
	Host string   `json:"host,omitempty"`
	User string   `json:"user,omitempty"`
	// Service is the detecting service for Defender's own alerts
	// ("Microsoft Data Loss Prevention", ...).
	Service string `json:"service,omitempty"`
	// GroupKey is the value the alert is grouped on when the rule groups
	// on event fields (Defender's alert id), else empty.
	GroupKey  string    `json:"group_key,omitempty"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Count is the number of matching events, exact.
	Count int `json:"count"`
	// EventIDs are the ids of the first MaxEventIDs matching events.
	EventIDs []string `json:"event_ids"`
}

// Change says what happened to an alert.
type Change uint8

const (
	Created Change = iota + 1
	Updated
)

func (c Change) String() string {
	if c == Created {
		return "created"
	}
	return "updated"
}

// AlertSink receives alerts as they are created and updated.
//
// Contract: WriteAlert gets the alert's full current state (an upsert by
// Alert.ID, not a delta), in change order for one alert, from one
// goroutine at a time. nil means the sink stored or delivered it. An
// error does not stop detection: the caller logs and counts it, and since
// every write carries the whole state, the next update of the same alert
// repairs a lost one. A sink must not keep the Alert's slices after
// returning (they are reused).
type AlertSink interface {
	WriteAlert(ctx context.Context, a Alert, change Change) error
}

// Match is one rule match on one event, as the grouper sees it.
type Match struct {
	RuleID, RuleTitle, Author, Level string
	Tags                             []string
	// Title overrides RuleTitle as the alert title when not empty.
	Title   string
	Service string
	// GroupKey, when not empty, groups on it instead of host and user.
	GroupKey   string
	Host, User string
	EventID    string
	Time       time.Time
}

// Config configures the grouping; the zero value of a field means its
// default (see Defaults).
type Config struct {
	// Window is how long after an alert's first event further matches of
	// the same rule and entity join it.
	Window time.Duration `yaml:"window"`
	// GroupWindow is the same for rules grouping on event fields
	// (Defender alert ids), whose evidence can arrive hours later.
	GroupWindow time.Duration `yaml:"group_window"`
	// MaxOpen bounds the alerts kept in memory; the least recently seen
	// are closed first (a later match then opens a new alert).
	MaxOpen int `yaml:"max_open"`
	// MaxEventIDs bounds the event ids kept per alert (Count stays exact).
	MaxEventIDs int `yaml:"max_event_ids"`
}

// Defaults returns the default grouping configuration.
func Defaults() Config {
	return Config{Window: time.Hour, GroupWindow: 24 * time.Hour, MaxOpen: 10000, MaxEventIDs: 100}
}

// Validate reports invalid settings without changing them.
func (c Config) Validate() error {
	var errs []error
	if c.Window < 0 || c.GroupWindow < 0 {
		errs = append(errs, errors.New("alerts: window and group_window must not be negative"))
	}
	if c.MaxOpen < 0 || c.MaxEventIDs < 0 {
		errs = append(errs, errors.New("alerts: max_open and max_event_ids must not be negative"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	d := Defaults()
	if c.Window == 0 {
		c.Window = d.Window
	}
	if c.GroupWindow == 0 {
		c.GroupWindow = d.GroupWindow
	}
	if c.MaxOpen == 0 {
		c.MaxOpen = d.MaxOpen
	}
	if c.MaxEventIDs == 0 {
		c.MaxEventIDs = d.MaxEventIDs
	}
	return c
}

// Grouper groups matches into alerts. It is not safe for concurrent use.
type Grouper struct {
	cfg  Config
	open map[string]*Alert // grouping key -> open alert
	now  time.Time         // latest event time seen: the grouper's clock
}

// NewGrouper returns a Grouper.
func NewGrouper(cfg Config) *Grouper {
	return &Grouper{cfg: cfg.withDefaults(), open: map[string]*Alert{}}
}

// Open is the number of alerts currently open (for metrics and tests).
func (g *Grouper) Open() int { return len(g.open) }

// Observe adds a match and returns the alert it created or updated. The
// returned Alert is a copy the caller may keep.
func (g *Grouper) Observe(m Match) (Alert, Change) {
	if m.Time.After(g.now) {
		g.now = m.Time
	}
	window := g.cfg.Window
	entity := m.Host + "\x00" + m.User
	if m.GroupKey != "" {
		window, entity = g.cfg.GroupWindow, "group\x00"+m.GroupKey
	}
	key := m.RuleID + "\x00" + m.RuleTitle + "\x00" + entity
	if a, ok := g.open[key]; ok && m.Time.Sub(a.FirstSeen) < window && a.FirstSeen.Sub(m.Time) < window {
		a.Count++
		if m.Time.After(a.LastSeen) {
			a.LastSeen = m.Time
		}
		if m.Time.Before(a.FirstSeen) {
			a.FirstSeen = m.Time
		}
		if len(a.EventIDs) < g.cfg.MaxEventIDs && m.EventID != "" {
			a.EventIDs = append(a.EventIDs, m.EventID)
		}
		if a.Host == "" {
			a.Host = m.Host
		}
		if a.User == "" {
			a.User = m.User
		}
		if a.Service == "" {
			a.Service = m.Service
		}
		return copyAlert(a), Updated
	}
	title := m.RuleTitle
	if m.Title != "" {
		title = m.Title
	}
	a := &Alert{
		ID:     alertID(key, m.Time),
		RuleID: m.RuleID, RuleTitle: m.RuleTitle, Title: title, Level: m.Level,
		Author: m.Author, Tags: m.Tags, Host: m.Host, User: m.User, Service: m.Service, GroupKey: m.GroupKey,
		FirstSeen: m.Time, LastSeen: m.Time, Count: 1,
	}
	if m.EventID != "" {
		a.EventIDs = []string{m.EventID}
	}
	g.open[key] = a
	if len(g.open) > g.cfg.MaxOpen {
		g.evict()
	}
	return copyAlert(a), Created
}

// evict closes expired alerts, then the least recently seen ones, until
// the open alerts fit in MaxOpen again (with 10% headroom so eviction
// does not run on every new alert).
func (g *Grouper) evict() {
	for k, a := range g.open {
		w := g.cfg.Window
		if a.GroupKey != "" {
			w = g.cfg.GroupWindow
		}
		if g.now.Sub(a.FirstSeen) >= w {
			delete(g.open, k)
		}
	}
	target := g.cfg.MaxOpen - g.cfg.MaxOpen/10
	if len(g.open) <= target {
		return
	}
	keys := make([]string, 0, len(g.open))
	for k := range g.open {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return g.open[keys[i]].LastSeen.Before(g.open[keys[j]].LastSeen) })
	for _, k := range keys[:len(keys)-target] {
		delete(g.open, k)
	}
}

func copyAlert(a *Alert) Alert {
	c := *a
	c.EventIDs = append([]string(nil), a.EventIDs...)
	return c
}

func alertID(key string, first time.Time) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d", key, first.UnixNano())))
	return hex.EncodeToString(h[:16])
}

// NormalizeLevel maps a severity (Sigma level or Defender severity) to a
// Sigma level, or "" when it is none.
func NormalizeLevel(s string) string {
	switch l := strings.ToLower(strings.TrimSpace(s)); l {
	case "informational", "low", "medium", "high", "critical":
		return l
	case "info", "information":
		return "informational"
	}
	return ""
}

// Restore reopens alerts (for example the store's recent alerts at
// startup), so matches after a restart keep updating the same alert
// instead of opening a duplicate. Alerts already outside their window
// are ignored when later matches arrive.
func (g *Grouper) Restore(alerts []Alert) {
	for i := range alerts {
		a := copyAlert(&alerts[i])
		entity := a.Host + "\x00" + a.User
		if a.GroupKey != "" {
			entity = "group\x00" + a.GroupKey
		}
		g.open[a.RuleID+"\x00"+a.RuleTitle+"\x00"+entity] = &a
		if a.LastSeen.After(g.now) {
			g.now = a.LastSeen
		}
	}
	if len(g.open) > g.cfg.MaxOpen {
		g.evict()
	}
}
