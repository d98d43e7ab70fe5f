package checkpoint

import (
	"errors"
	"testing"
	"time"
)

// blockingSave is a save function that reports each call on started and
// returns only when the test sends its result on finish.
type blockingSave struct {
	started chan struct{}
	finish  chan error
	calls   int
}

func newBlockingSave() *blockingSave {
	return &blockingSave{started: make(chan struct{}), finish: make(chan error)}
}

func (b *blockingSave) save() error {
	b.calls++
	b.started <- struct{}{}
	return <-b.finish
}

// step waits for the next save and ends it with err.
func (b *blockingSave) step(err error) {
	<-b.started
	b.finish <- err
}

func TestSaver(t *testing.T) {
	tests := []struct {
		name string
		run  func(s *Saver, b *blockingSave)
		// close: Close (with its last save) rather than Stop.
		close     bool
		wantCalls int
	}{
		{name: "no change, stop: nothing saved", run: func(*Saver, *blockingSave) {}, wantCalls: 0},
		{name: "no change, close: the last save", run: func(*Saver, *blockingSave) {}, close: true, wantCalls: 1},
		{name: "one change is saved", run: func(s *Saver, b *blockingSave) {
			s.Changed()
			b.step(nil)
		}, wantCalls: 1},
		{name: "changes during a save are coalesced into one more", run: func(s *Saver, b *blockingSave) {
			s.Changed()
			<-b.started
			for range 1000 {
				s.Changed()
			}
			b.finish <- nil
			b.step(nil)
		}, close: true, wantCalls: 3},
		{name: "a failed save is tried again without a new change", run: func(s *Saver, b *blockingSave) {
			s.Changed()
			b.step(errors.New("store down"))
			b.step(nil)
		}, wantCalls: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBlockingSave()
			s := NewSaver(time.Millisecond, b.save)
			tc.run(s, b)
			if tc.close {
				go b.step(nil) // the last save
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				s.Stop()
			}
			if b.calls != tc.wantCalls {
				t.Errorf("%d saves, want %d", b.calls, tc.wantCalls)
			}
		})
	}
}
