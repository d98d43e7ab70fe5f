package file

import (
	"bytes"
	"context"
	"fmt"
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

// A value dead-lettered by incomplete_timeout and finished by the writer
// later reads differently after a restart (one record instead of a
// fragment and its rest): the saved position is a byte offset, so the
// restart resumes right after what was delivered. (Counting inputs from
// the top, it skipped the next record: lost.)
func TestRestartAfterIncompleteTimeout(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.ndjson")
	appendTo(t, path, "{\"n\":1}\n{\"n\":")
	cfg := *DefaultConfig()
	cfg.Paths, cfg.Follow, cfg.PollInterval = []string{path}, true, time.Millisecond
	cfg.StatePath, cfg.IncompleteTimeout = filepath.Join(dir, "pos.json"), 5*time.Second
	run := func(until func(c *collector) bool) *collector {
		t.Helper()
		s := New("f", cfg, source.Env{Logger: slog.New(slog.DiscardHandler)})
		s.now = (&countingClock{}).now
		c := &collector{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, c) }()
		for start := time.Now(); ; time.Sleep(time.Millisecond) {
			c.mu.Lock()
			ok := until(c)
			c.mu.Unlock()
			if ok {
				break
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("bodies %v, errors %v", c.bodies, c.errs)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return c
	}
	// In one run: the fragment is dead-lettered, then the writer finishes
	// the line and goes on; the rest of the line is dead-lettered too.
	appended := false
	first := run(func(c *collector) bool {
		if len(c.errs) == 1 && !appended {
			appended = true
			appendTo(t, path, "2}\n{\"n\":3}\n")
		}
		return len(c.errs) == 2 && len(c.bodies) == 2
	})
	// Stopped; the writer adds a record; a restart delivers it.
	appendTo(t, path, "{\"n\":4}\n")
	second := run(func(c *collector) bool { return len(c.bodies) >= 1 })
	got := strings.Join(append(first.bodies, second.bodies...), " ")
	if got != `{"n":1} {"n":3} {"n":4}` || len(second.errs) != 0 {
		t.Errorf("records over two runs: %s; errors after the restart %v", got, second.errs)
	}
}

// A position saved before positions were byte offsets (a count of inputs
// only) still resumes: the inputs are skipped from the top.
func TestResumeFromCountOnlyPosition(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.ndjson")
	appendTo(t, path, "{\"records\":[{\"n\":1},{\"n\":2}]}\n{\"n\":3}\n")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	dev, ino := fileID(fi)
	state := filepath.Join(dir, "pos.json")
	if err := os.WriteFile(state, fmt.Appendf(nil, `{%q: {"dev": %d, "ino": %d, "records": 1}}`, path, dev, ino), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := *DefaultConfig()
	cfg.Paths, cfg.StatePath = []string{path}, state
	c := &collector{}
	if err := New("f", cfg, source.Env{Logger: slog.New(slog.DiscardHandler)}).Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.bodies, " "); got != `{"n":2} {"n":3}` {
		t.Errorf("bodies %s", got)
	}
	b, _ := os.ReadFile(state)
	if !strings.Contains(string(b), `"records": 3`) || !strings.Contains(string(b), `"offset": 37`) {
		t.Errorf("saved position %s, want 3 inputs and the offset after the last record", b)
	}
}
