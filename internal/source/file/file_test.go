package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/source"
)

// collector acknowledges every batch at once and keeps the bodies.
type collector struct {
	mu     sync.Mutex
	bodies []string
	errs   []string
}

func (c *collector) Emit(_ context.Context, b *pipeline.Batch) error {
	c.mu.Lock()
	for _, m := range b.Messages {
		if m.DecodeError != "" {
			c.errs = append(c.errs, m.DecodeError)
		} else {
			c.bodies = append(c.bodies, string(m.Body))
		}
	}
	c.mu.Unlock()
	b.Ack(nil)
	return nil
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.bodies)
}

func appendTo(t *testing.T, path, s string) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// Following: growth, a half-written line completed later, rotation (the
// file renamed and a new one created), and a new file matching the pattern.
func TestFollow(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.ndjson")
	appendTo(t, path, "{\"n\":1}\n{\"n\":2}\n{\"n\":")
	cfg := *DefaultConfig()
	cfg.Paths = []string{filepath.Join(dir, "*.ndjson")}
	cfg.Follow, cfg.PollInterval, cfg.StatePath = true, 10*time.Millisecond, filepath.Join(dir, "state", "pos.json")
	s := New("f", cfg, source.Env{})
	c := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, c) }()
	wait := func(n int) {
		t.Helper()
		for start := time.Now(); c.count() < n; time.Sleep(5 * time.Millisecond) {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("%d records, want %d: %v %v", c.count(), n, c.bodies, c.errs)
			}
		}
	}
	wait(2)
	appendTo(t, path, "3}\n")
	wait(3)
	if err := os.Rename(path, filepath.Join(dir, "a.ndjson.1")); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "{\"n\":4}\n")
	wait(4)
	appendTo(t, filepath.Join(dir, "b.ndjson"), "{\"n\":5}\n")
	wait(5)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.bodies, " "); got != `{"n":1} {"n":2} {"n":3} {"n":4} {"n":5}` {
		t.Errorf("bodies %s", got)
	}
	if len(c.errs) > 0 {
		t.Errorf("decode errors: %v", c.errs)
	}
	// A restart resumes after what was acknowledged: nothing again.
	c2 := &collector{}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if err := New("f", cfg, source.Env{}).Run(ctx2, c2); err != nil {
		t.Fatal(err)
	}
	if c2.count() != 0 {
		t.Errorf("restart read again: %v", c2.bodies)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		change func(c *Config)
		want   string
	}{
		{func(c *Config) {}, ""},
		{func(c *Config) { c.Paths = nil }, "paths"},
		{func(c *Config) { c.Paths = []string{"[x"} }, "bad pattern"},
		{func(c *Config) { c.BatchRecords = 0 }, "batch_records"},
		{func(c *Config) { c.PollInterval = 0 }, "poll_interval"},
	}
	for i, tc := range tests {
		c := *DefaultConfig()
		c.Paths = []string{"/x/*.ndjson"}
		tc.change(&c)
		err := c.Validate()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("case %d: %v, want %q", i, err, tc.want)
		}
	}
}

// A stop saves the position of everything acknowledged, even when the
// periodic save is far away.
func TestStopSavesPosition(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.ndjson")
	appendTo(t, path, "{\"n\":1}\n{\"n\":2}\nnot json\n{\"n\":3}\n")
	cfg := *DefaultConfig()
	cfg.Paths, cfg.Follow, cfg.PollInterval = []string{path}, true, 10*time.Millisecond
	cfg.StatePath, cfg.CheckpointInterval = filepath.Join(dir, "pos.json"), time.Hour
	c := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New("f", cfg, source.Env{}).Run(ctx, c) }()
	for start := time.Now(); c.count() < 3; time.Sleep(5 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatal("records not read")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(cfg.StatePath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"records": 4`) {
		t.Errorf("saved position %s, want 4 inputs (3 records and 1 dead-lettered line)", b)
	}
	if len(c.errs) != 1 {
		t.Errorf("decode errors %v, want the one bad line", c.errs)
	}
}
