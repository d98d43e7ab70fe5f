package sigma

import "time"

// CorrelatorState is a Correlator's state, for keeping correlation windows
// across a restart: save it at shutdown, Restore it at startup. It is
// plain data (JSON-friendly).
type CorrelatorState struct {
	Groups []GroupState `json:"groups"`
}

// GroupState is one open group of one correlation rule.
type GroupState struct {
	// Correlation is the correlation rule's id; on restore, groups of
	// rules no longer loaded are dropped.
	Correlation string               `json:"correlation"`
	Group       []string             `json:"group"`
	Times       []time.Time          `json:"times,omitempty"`
	Values      map[string]time.Time `json:"values,omitempty"`
	Seen        []time.Time          `json:"seen,omitempty"`
	Starts      []time.Time          `json:"starts,omitempty"`
	LastSeen    time.Time            `json:"last_seen"`
}

// Snapshot returns a copy of the open groups.
func (c *Correlator) Snapshot() CorrelatorState {
	var st CorrelatorState
	for i, groups := range c.states {
		for _, g := range groups {
			gs := GroupState{
				Correlation: c.corrs[i].ID, Group: append([]string(nil), g.group...),
				Times: append([]time.Time(nil), g.times...), Seen: append([]time.Time(nil), g.seen...),
				Starts: append([]time.Time(nil), g.starts...), LastSeen: g.lastSeen,
			}
			if len(g.values) > 0 {
				gs.Values = make(map[string]time.Time, len(g.values))
				for k, v := range g.values {
					gs.Values[k] = v
				}
			}
			st.Groups = append(st.Groups, gs)
		}
	}
	return st
}

// Restore loads groups saved by Snapshot, for the correlation rules that
// are still loaded with the same number of base rules; it returns how many
// groups were restored. Windows already past are dropped by the normal
// expiry as events arrive.
func (c *Correlator) Restore(st CorrelatorState) int {
	byID := map[string]int{}
	for i, corr := range c.corrs {
		if corr.ID != "" {
			byID[corr.ID] = i
		}
	}
	n := 0
	for _, gs := range st.Groups {
		i, ok := byID[gs.Correlation]
		if !ok {
			continue
		}
		rules := len(c.corrs[i].Rules)
		if (gs.Seen != nil && len(gs.Seen) != rules) || (gs.Starts != nil && len(gs.Starts) != rules) ||
			len(gs.Group) != len(c.corrs[i].GroupBy) {
			continue // the rule changed shape: its old state means nothing
		}
		g := &groupState{group: gs.Group, times: gs.Times, values: gs.Values, seen: gs.Seen, starts: gs.Starts, lastSeen: gs.LastSeen}
		c.states[i][joinGroup(gs.Group)] = g
		if gs.LastSeen.After(c.now) {
			c.now = gs.LastSeen
		}
		n++
	}
	for i := range c.states {
		if len(c.states[i]) > c.maxGroups {
			c.evict(i)
		}
	}
	return n
}
