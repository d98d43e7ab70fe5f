package alerts

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

type blockingSink struct {
	release chan struct{}
	mu      sync.Mutex
	got     []string
}

func (s *blockingSink) WriteAlert(_ context.Context, a Alert, _ Change) error {
	<-s.release
	s.mu.Lock()
	s.got = append(s.got, a.ID)
	s.mu.Unlock()
	return nil
}

// TestAsync: WriteAlert never blocks on a slow sink, a full queue is an
// error (counted), and Close delivers what was queued.
func TestAsync(t *testing.T) {
	sink := &blockingSink{release: make(chan struct{})}
	q := NewAsync(sink, 2, slog.New(slog.NewTextHandler(io.Discard, nil)))
	start := time.Now()
	var errs []error
	for _, id := range []string{"a", "b", "c", "d"} {
		errs = append(errs, q.WriteAlert(context.Background(), Alert{ID: id}, Created))
	}
	if time.Since(start) > time.Second {
		t.Fatal("WriteAlert blocked on the sink")
	}
	full := 0
	for _, err := range errs {
		if errors.Is(err, ErrQueueFull) {
			full++
		}
	}
	// One alert may be in the sink already, two queued: at least one drop.
	if full == 0 || q.Dropped() != uint64(full) {
		t.Fatalf("%d queue-full errors, %d dropped", full, q.Dropped())
	}
	close(sink.release)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.got) != 4-full {
		t.Fatalf("delivered %v, want %d alerts", sink.got, 4-full)
	}
}
