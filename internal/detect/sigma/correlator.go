package sigma

import (
	"sort"
	"strings"
	"time"
)

// Fired is a correlation whose condition was met.
type Fired struct {
	Correlation *Correlation
	// Group holds the group-by values, in the order of Correlation.GroupBy.
	Group []string
	// First and Last are the times of the first and last event counted.
	First, Last time.Time
	// Count is the number of events (event_count), distinct values
	// (value_count) or distinct rules (temporal) that met the condition.
	Count int
}

// Correlator keeps the state of correlation rules: per correlation and
// group, only what the condition needs (at most threshold timestamps or
// values), for at most MaxGroups groups per correlation. State is in
// memory only: after a restart every window starts empty. Time is the
// events' own time, so replayed or late events are judged by when they
// happened. Not safe for concurrent use.
type Correlator struct {
	corrs     []*Correlation
	states    []map[string]*groupState
	byRule    map[*Rule][]ruleRef
	maxGroups int
	now       time.Time // latest event time seen
	fired     []Fired
}

type ruleRef struct {
	corr int // index in corrs
	pos  int // position of the rule in Correlation.Rules
}

// groupState is one group's window. times is sorted; values maps a
// value_count value to when it was last seen; seen/starts serve temporal
// rules (per base rule position).
type groupState struct {
	group    []string
	times    []time.Time
	values   map[string]time.Time
	seen     []time.Time
	starts   []time.Time
	lastSeen time.Time
}

// DefaultMaxGroups bounds the groups tracked per correlation.
const DefaultMaxGroups = 10000

// NewCorrelator returns a Correlator for the engine's correlations;
// maxGroups <= 0 means DefaultMaxGroups.
func (e *Engine) NewCorrelator(maxGroups int) *Correlator {
	if maxGroups <= 0 {
		maxGroups = DefaultMaxGroups
	}
	c := &Correlator{corrs: e.correlations, byRule: map[*Rule][]ruleRef{}, maxGroups: maxGroups}
	for i, corr := range e.correlations {
		c.states = append(c.states, map[string]*groupState{})
		// Last position first: an event matching two steps of a
		// temporal_ordered rule must not complete both at once.
		for pos := len(corr.Rules) - 1; pos >= 0; pos-- {
			r := corr.Rules[pos]
			c.byRule[r] = append(c.byRule[r], ruleRef{corr: i, pos: pos})
		}
	}
	return c
}

// Groups returns the number of groups tracked (for metrics and tests).
func (c *Correlator) Groups() int {
	n := 0
	for _, s := range c.states {
		n += len(s)
	}
	return n
}

// Observe feeds the rules x matched on its current event (the event of
// its last Match call) at time t, and returns the correlations that fired.
// The result is valid until the next call.
func (c *Correlator) Observe(x *Evaluator, matched []*Rule, t time.Time) []Fired {
	c.fired = c.fired[:0]
	if len(c.corrs) == 0 {
		return nil
	}
	if t.After(c.now) {
		c.now = t
	}
	for _, r := range matched {
		for _, ref := range c.byRule[r] {
			corr := c.corrs[ref.corr]
			if c.now.Sub(t) > corr.Timespan {
				continue // too late for any window still open
			}
			group, ok := groupValues(x, corr.groupKeys[ref.pos])
			if !ok {
				continue // an event without the group-by fields joins no group
			}
			key := joinGroup(group)
			st := c.states[ref.corr][key]
			if st == nil {
				st = &groupState{group: group}
				c.states[ref.corr][key] = st
				if len(c.states[ref.corr]) > c.maxGroups {
					c.evict(ref.corr)
				}
			}
			if t.After(st.lastSeen) {
				st.lastSeen = t
			}
			if f, ok := c.update(corr, st, ref.pos, x, t); ok {
				c.fired = append(c.fired, f)
				delete(c.states[ref.corr], key) // counting starts again
			}
		}
	}
	return c.fired
}

func groupValues(x *Evaluator, keys []int) ([]string, bool) {
	group := make([]string, len(keys))
	for i, id := range keys {
		f := x.st.field(id)
		found := false
		for j, v := range f.vals {
			if v.Kind != KindNull {
				group[i] = f.low[j] // case-insensitive grouping, like matching
				found = true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	return group, true
}

func (c *Correlator) update(corr *Correlation, st *groupState, pos int, x *Evaluator, t time.Time) (Fired, bool) {
	need := corr.threshold
	if corr.op == "gt" {
		need++
	}
	from := t.Add(-corr.Timespan)
	switch corr.Type {
	case "event_count":
		i := sort.Search(len(st.times), func(i int) bool { return st.times[i].After(t) })
		st.times = append(st.times, time.Time{})
		copy(st.times[i+1:], st.times[i:])
		st.times[i] = t
		st.times = dropBefore(st.times, st.times[len(st.times)-1].Add(-corr.Timespan))
		if len(st.times) > need { // only the most recent `need` matter
			st.times = append(st.times[:0], st.times[len(st.times)-need:]...)
		}
		if len(st.times) >= need && need > 0 {
			return Fired{Correlation: corr, Group: st.group, First: st.times[0], Last: st.times[len(st.times)-1], Count: len(st.times)}, true
		}
	case "value_count":
		f := x.st.field(corr.valueKeys[pos])
		if st.values == nil {
			st.values = map[string]time.Time{}
		}
		for j, v := range f.vals {
			if v.Kind != KindNull {
				if t.After(st.values[f.low[j]]) {
					st.values[f.low[j]] = t
				}
			}
		}
		first, last := t, t
		for v, seen := range st.values {
			if seen.Before(st.lastSeen.Add(-corr.Timespan)) {
				delete(st.values, v)
				continue
			}
			first, last = minTime(first, seen), maxTime(last, seen)
		}
		for len(st.values) > need { // keep the most recent `need` values
			oldest, ot := "", time.Time{}
			for v, seen := range st.values {
				if oldest == "" || seen.Before(ot) {
					oldest, ot = v, seen
				}
			}
			delete(st.values, oldest)
		}
		if len(st.values) >= need && need > 0 {
			return Fired{Correlation: corr, Group: st.group, First: first, Last: last, Count: len(st.values)}, true
		}
	case "temporal":
		if st.seen == nil {
			st.seen = make([]time.Time, len(corr.Rules))
		}
		if t.After(st.seen[pos]) {
			st.seen[pos] = t
		}
		n, first, last := 0, t, t
		for _, s := range st.seen {
			if !s.IsZero() && !s.Before(st.lastSeen.Add(-corr.Timespan)) {
				n++
				first, last = minTime(first, s), maxTime(last, s)
			}
		}
		if n >= need {
			return Fired{Correlation: corr, Group: st.group, First: first, Last: last, Count: n}, true
		}
	case "temporal_ordered":
		// starts[i] is the latest start time of a sequence that completed
		// steps 0..i; the latest start leaves the most room for the rest.
		if st.starts == nil {
			st.starts = make([]time.Time, len(corr.Rules))
		}
		if pos == 0 {
			st.starts[0] = maxTime(st.starts[0], t)
		} else if prev := st.starts[pos-1]; !prev.IsZero() && !prev.Before(from) && !t.Before(prev) {
			st.starts[pos] = maxTime(st.starts[pos], prev)
		}
		if last := st.starts[len(st.starts)-1]; !last.IsZero() && !last.Before(from) {
			return Fired{Correlation: corr, Group: st.group, First: last, Last: t, Count: len(corr.Rules)}, true
		}
	}
	return Fired{}, false
}

// evict drops groups whose window has passed, then the least recently
// seen, so a correlation never tracks more than maxGroups groups.
func (c *Correlator) evict(i int) {
	span := c.corrs[i].Timespan
	states := c.states[i]
	for k, st := range states {
		if c.now.Sub(st.lastSeen) > span {
			delete(states, k)
		}
	}
	if len(states) <= c.maxGroups {
		return
	}
	keys := make([]string, 0, len(states))
	for k := range states {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return states[keys[a]].lastSeen.Before(states[keys[b]].lastSeen) })
	for _, k := range keys[:len(keys)-c.maxGroups] {
		delete(states, k)
	}
}

func dropBefore(ts []time.Time, from time.Time) []time.Time {
	i := 0
	for i < len(ts) && ts[i].Before(from) {
		i++
	}
	return ts[i:]
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func joinGroup(group []string) string { return strings.Join(group, "\x00") }
