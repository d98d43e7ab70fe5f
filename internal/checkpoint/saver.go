package checkpoint

import "time"

// Saver saves a source's delivered position soon after it moves, instead
// of on a fixed tick: the first acknowledgement after a quiet period is
// saved at once, and acknowledgements that come while a save runs, or
// within Interval after it, are coalesced into the next save. A crash
// therefore re-reads at most the acknowledgements of about one Interval
// (plus the batches in flight), an idle source writes nothing, and a slow
// store (a remote commit, an fsync) is never asked for more than one save
// at a time.
type Saver struct {
	interval time.Duration
	save     func() error
	kick     chan struct{}
	stop     chan struct{}
	done     chan struct{}
}

// NewSaver starts a saver that calls save, never concurrently, and starts
// at most one save per interval. A save that returns an error is tried again after the
// interval even if the position does not move again.
func NewSaver(interval time.Duration, save func() error) *Saver {
	s := &Saver{interval: interval, save: save, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop()
	return s
}

// Changed says the position moved. It never blocks, so it can be called
// from a pipeline acknowledgement. On a nil Saver (a source used without
// Run) it does nothing.
func (s *Saver) Changed() {
	if s == nil {
		return
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Close stops the saver and saves one last time: on a graceful stop, the
// position of everything acknowledged. It returns that save's error.
func (s *Saver) Close() error {
	s.Stop()
	return s.save()
}

// Stop stops the saver without a last save (the position is no longer
// this instance's to write, e.g. a partition taken over by another).
func (s *Saver) Stop() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

func (s *Saver) loop() {
	defer close(s.done)
	for {
		select {
		case <-s.kick:
		case <-s.stop:
			return
		}
		// The interval runs from the start of a save, so a slow save
		// (an fsync, a remote commit under load) is not followed by a
		// whole interval more of unsaved acknowledgements.
		next := time.Now().Add(s.interval)
		if err := s.save(); err != nil {
			s.Changed()
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-t.C:
		case <-s.stop:
			t.Stop()
			return
		}
	}
}
