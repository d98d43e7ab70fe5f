package detectsink

import (
	"context"
	"slices"
	"sync"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
)

// pendingAlerts is the AlertSink the detector writes to: it keeps the last
// state of each alert changed since the last successful flush, in the
// order they were first changed, until Sink.flush has made them durable
// (in the store, and the alert file when there is one).
type pendingAlerts struct {
	mu    sync.Mutex // WriteAlert runs under the detector's lock; flush may not
	lines []Line
	index map[string]int // alert id -> position in lines
}

// WriteAlert implements alerts.AlertSink: it only records the change in
// memory (never fails); Sink.flush makes it durable.
func (p *pendingAlerts) WriteAlert(_ context.Context, al alerts.Alert, change alerts.Change) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.index == nil {
		p.index = map[string]int{}
	}
	// The detector reuses the alert's slices after we return: copy them,
	// into the pending line's own slices when the alert is already there
	// (a noisy rule updates the same alert for most documents).
	if i, ok := p.index[al.ID]; ok {
		// Keep "created" when the alert was created since the last flush.
		q := &p.lines[i].Alert
		al.Tags = append(q.Tags[:0], al.Tags...)
		al.EventIDs = append(q.EventIDs[:0], al.EventIDs...)
		*q = al
		return nil
	}
	al.Tags = slices.Clone(al.Tags)
	al.EventIDs = slices.Clone(al.EventIDs)
	p.index[al.ID] = len(p.lines)
	p.lines = append(p.lines, Line{Change: change.String(), Alert: al})
	return nil
}

// take returns copies of the pending changes (one per alert), leaving
// them pending until done is called.
func (p *pendingAlerts) take() []Line {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Line, len(p.lines))
	for i, l := range p.lines {
		l.Alert.Tags = slices.Clone(l.Alert.Tags)
		l.Alert.EventIDs = slices.Clone(l.Alert.EventIDs)
		out[i] = l
	}
	return out
}

// done forgets the first n pending changes, made durable by a flush.
// Changes made since take (none while Write runs: the sink is not
// concurrent) stay.
func (p *pendingAlerts) done(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n >= len(p.lines) {
		p.lines = p.lines[:0]
		clear(p.index)
		return
	}
	p.lines = slices.Delete(p.lines, 0, n)
	clear(p.index)
	for i, l := range p.lines {
		p.index[l.Alert.ID] = i
	}
}
