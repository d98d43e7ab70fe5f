package file

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/source"
)

// countingClock is a clock that moves one second each time it is read, so
// that a timeout is reached after a known number of waits, however slow
// the machine.
type countingClock struct{ reads atomic.Int64 }

func (c *countingClock) now() time.Time {
	return time.Unix(0, 0).Add(time.Duration(c.reads.Add(1)) * time.Second)
}

// syncBuffer is a log destination shared by the source's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// While following, a value left unfinished at the end of a file is
// dead-lettered (and logged) once incomplete_timeout passes without new
// data; between values the source waits as long as it takes, without a
// dead letter. What the writer adds later is read as new input.
func TestFollowIncompleteValueTimesOut(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.ndjson")
	appendTo(t, path, "{\"n\":1}\n{\"n\":")
	cfg := *DefaultConfig()
	cfg.Paths, cfg.Follow, cfg.PollInterval = []string{path}, true, time.Millisecond
	cfg.IncompleteTimeout = 5 * time.Second // five reads of the counting clock
	var logs syncBuffer
	s := New("f", cfg, source.Env{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	clock := &countingClock{}
	s.now = clock.now
	c := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, c) }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for start := time.Now(); !cond(); time.Sleep(time.Millisecond) {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("%s: bodies %v, errors %v, logs %s", what, c.bodies, c.errs, logs.String())
			}
		}
	}
	errCount := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.errs)
	}
	waitFor("dead letter of the unfinished line", func() bool { return errCount() == 1 })
	if c.count() != 1 || !strings.Contains(c.errs[0], "truncated") {
		t.Fatalf("bodies %v, errors %v", c.bodies, c.errs)
	}
	if n := clock.reads.Load(); n < 6 {
		t.Errorf("dead-lettered after %d clock reads, before the timeout", n)
	}
	if !strings.Contains(logs.String(), "incomplete input at the end of a followed file") || !strings.Contains(logs.String(), "path="+path) {
		t.Errorf("no log line: %s", logs.String())
	}

	// The writer finishes its line late, and goes on.
	appendTo(t, path, "2}\n{\"n\":3}\n")
	waitFor("record after the late rest", func() bool { return c.count() == 2 })
	// Between values nothing is dead-lettered, however long the wait.
	reads := clock.reads.Load()
	waitFor("a long wait between values", func() bool { return clock.reads.Load() > reads+50 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.bodies, " "); got != `{"n":1} {"n":3}` {
		t.Errorf("bodies %s", got)
	}
	if len(c.errs) != 2 || !strings.Contains(c.errs[1], "not JSON") {
		t.Errorf("errors %v: want the unfinished line, then its late rest", c.errs)
	}
}

// The timeout waits for quiet: a value that keeps growing is not cut, and
// the dead letter holds exactly the unfinished bytes.
func TestFollowReaderTimeoutCountsQuietTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.ndjson")
	appendTo(t, path, `{"n":`)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	clock := &countingClock{}
	partial := true
	grow := 0
	fr := &followReader{ctx: context.Background(), f: f, path: path, poll: time.Millisecond, onIdle: func() {
		// Each time the reader is idle, the writer adds a byte, three times.
		if grow < 3 {
			grow++
			appendTo(t, path, " ")
		}
	}, partial: func() bool { return partial }, timeout: 2 * time.Second, now: clock.now}
	fi, _ := f.Stat()
	_, fr.ino = fileID(fi)
	buf := make([]byte, 64)
	var got []byte
	for range 10 {
		n, err := fr.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	if string(got) != `{"n":   ` || !fr.timedOut {
		t.Fatalf("read %q, timed out %v", got, fr.timedOut)
	}
	// Three waits after the last growth: the first starts the wait, the
	// next two reach the two seconds.
	if n := clock.reads.Load(); n != 3+3 {
		t.Errorf("clock read %d times, want 6", n)
	}
}
