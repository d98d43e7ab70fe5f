package file

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/source"
)

// A file rewritten in place (same inode, shorter) while the source was
// stopped is read from the top at the restart: the saved offset is past
// its end, and seeking there delivered nothing of what it holds now.
func TestRestartAfterFileShrank(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.ndjson")
	appendTo(t, path, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n")
	cfg := *DefaultConfig()
	cfg.Paths, cfg.StatePath = []string{path}, filepath.Join(dir, "pos.json")
	run := func() *collector {
		t.Helper()
		c := &collector{}
		if err := New("f", cfg, source.Env{Logger: slog.New(slog.DiscardHandler)}).Run(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if got := strings.Join(run().bodies, " "); got != `{"n":1} {"n":2} {"n":3} {"n":4}` {
		t.Fatalf("first run: %s", got)
	}
	// os.WriteFile truncates the file: the inode stays.
	if err := os.WriteFile(path, []byte("{\"n\":5}\n{\"n\":6}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(run().bodies, " "); got != `{"n":5} {"n":6}` {
		t.Fatalf("after the file was rewritten shorter: %q, want its 2 records", got)
	}
	if got := run().bodies; len(got) != 0 {
		t.Fatalf("third run delivered again: %q", got)
	}
}

// holder keeps the batches it is given unacknowledged until the test
// acknowledges them.
type holder struct {
	mu      sync.Mutex
	batches []*pipeline.Batch
	bodies  []string
}

func (h *holder) Emit(_ context.Context, b *pipeline.Batch) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.batches = append(h.batches, b)
	for _, m := range b.Messages {
		h.bodies = append(h.bodies, string(m.Body))
	}
	return nil
}

func (h *holder) waitBodies(t *testing.T, n int) []*pipeline.Batch {
	t.Helper()
	for start := time.Now(); ; time.Sleep(2 * time.Millisecond) {
		h.mu.Lock()
		if len(h.bodies) >= n {
			b := append([]*pipeline.Batch(nil), h.batches...)
			h.mu.Unlock()
			return b
		}
		h.mu.Unlock()
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%d records, want %d", len(h.bodies), n)
		}
	}
}

// A followed file truncated in place (copytruncate) while batches read
// before are not acknowledged yet: their late acknowledgement must not
// move the file's position back to the old content's (the restart then
// resumed past what the file holds now, or skipped its new records).
func TestFollowLateAckAfterTruncation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.ndjson")
	appendTo(t, path, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n")
	cfg := *DefaultConfig()
	cfg.Paths, cfg.Follow, cfg.PollInterval = []string{path}, true, time.Millisecond
	cfg.StatePath = filepath.Join(dir, "pos.json")
	s := New("f", cfg, source.Env{Logger: slog.New(slog.DiscardHandler)})
	h := &holder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, h) }()
	old := h.waitBodies(t, 3)
	if err := os.WriteFile(path, []byte("{\"n\":9}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	all := h.waitBodies(t, 4)
	for _, b := range all[len(old):] {
		b.Ack(nil)
	}
	for _, b := range old {
		b.Ack(nil)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The writer goes on; a restart delivers exactly what it added: the
	// position is after {"n":9}, not at the old content's end (mid-record
	// in the new content).
	appendTo(t, path, "{\"n\":10}\n{\"n\":11}\n{\"n\":12}\n")
	c := &collector{}
	cfg.Follow = false
	if err := New("f", cfg, source.Env{Logger: slog.New(slog.DiscardHandler)}).Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.bodies, " "); got != `{"n":10} {"n":11} {"n":12}` || len(c.errs) != 0 {
		state, _ := os.ReadFile(cfg.StatePath)
		t.Fatalf("restart delivered %q %q; saved position %s", c.bodies, c.errs, state)
	}
}

// A file deleted and created again while the source was stopped can get
// the same inode number (simulated: the saved position is given the new
// file's device and inode). Its first bytes differ from the ones the
// position was saved for, so it is read from the start: the saved offset
// skipped its first records.
func TestRestartAfterFileReplacedWithSameInode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.ndjson")
	appendTo(t, path, "{\"n\":1}\n{\"n\":2}\n")
	cfg := *DefaultConfig()
	cfg.Paths, cfg.StatePath = []string{path}, filepath.Join(dir, "pos.json")
	run := func() *collector {
		t.Helper()
		c := &collector{}
		if err := New("f", cfg, source.Env{Logger: slog.New(slog.DiscardHandler)}).Run(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	run()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "{\"n\":3}\n{\"n\":4}\n{\"n\":5}\n")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	dev, ino := fileID(fi)
	state, err := os.ReadFile(cfg.StatePath)
	if err != nil {
		t.Fatal(err)
	}
	var saved map[string]filePos
	if err := json.Unmarshal(state, &saved); err != nil {
		t.Fatal(err)
	}
	p := saved[path]
	p.Dev, p.Ino = dev, ino
	saved[path] = p
	state, _ = json.Marshal(saved)
	if err := os.WriteFile(cfg.StatePath, state, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(run().bodies, " "); got != `{"n":3} {"n":4} {"n":5}` {
		t.Fatalf("after the file was replaced: %q, want its 3 records", got)
	}
	if got := run().bodies; len(got) != 0 {
		t.Fatalf("third run delivered again: %q", got)
	}
}
