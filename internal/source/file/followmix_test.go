package file

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/envelope/envelopetest"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/source"
)

// rawCollector keeps every message in order, records and dead letters.
type rawCollector struct {
	mu    sync.Mutex
	items []string
}

func (c *rawCollector) Emit(_ context.Context, b *pipeline.Batch) error {
	c.mu.Lock()
	for _, m := range b.Messages {
		kind := "record "
		if m.DecodeError != "" {
			kind = "bad "
		}
		c.items = append(c.items, kind+string(m.Body))
	}
	c.mu.Unlock()
	b.Ack(nil)
	return nil
}

func (c *rawCollector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// A hostile mix written to a followed file in pieces cut at any byte (a
// writer that flushes mid-line) gives what the whole file gives: each
// record once, in order, and each bad line byte-exact. The clock does not
// move until everything is written, so no incomplete_timeout fires before
// (what is unfinished at the end is given at the timeout).
func TestFollowHostileMixWrittenInPieces(t *testing.T) {
	for seed := range uint64(60) {
		rng := rand.New(rand.NewPCG(seed, 15))
		recs := make([][]byte, 1+rng.IntN(8))
		for i := range recs {
			recs[i] = fmt.Appendf(nil, `{"n":%d,"s":"a \"b\" c","o":{"a":[1,2],"e":{}}}`, i)
		}
		m := envelopetest.NewMix(rng, recs)
		input := append(m.Input, '\n')
		var want []string
		// The order of records and bad lines: read the whole file once.
		dir := t.TempDir()
		path := filepath.Join(dir, "a.ndjson")
		cfg := *DefaultConfig()
		cfg.Paths, cfg.Follow, cfg.PollInterval = []string{path}, true, time.Millisecond
		cfg.IncompleteTimeout = time.Hour
		{
			os.WriteFile(path, input, 0o600)
			c := &rawCollector{}
			nf := cfg
			nf.Follow = false
			if err := New("f", nf, source.Env{Logger: slog.New(slog.DiscardHandler)}).Run(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			want = c.items
			if len(want) != len(m.Records)+len(m.Bad) {
				t.Fatalf("seed %d: whole file: %d items, want %d", seed, len(want), len(m.Records)+len(m.Bad))
			}
			os.Remove(path)
		}
		os.WriteFile(path, nil, 0o600)
		s := New("f", cfg, source.Env{Logger: slog.New(slog.DiscardHandler)})
		// The clock stands still until everything is written, then moves
		// a minute at each look.
		var late atomic.Bool
		var looks atomic.Int64
		s.now = func() time.Time {
			if !late.Load() {
				return time.Unix(0, 0)
			}
			return time.Unix(0, 0).Add(time.Duration(looks.Add(1)) * time.Minute)
		}
		c := &rawCollector{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, c) }()
		for rest := input; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(40))
			appendTo(t, path, string(rest[:n]))
			rest = rest[n:]
			time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
		}
		late.Store(true)
		for start := time.Now(); c.len() < len(want); time.Sleep(2 * time.Millisecond) {
			if time.Since(start) > 10*time.Second {
				break
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%q", c.items) != fmt.Sprintf("%q", want) {
			t.Fatalf("seed %d: input %q\nfollowed in pieces: %q\nwhole file: %q", seed, input, c.items, want)
		}
	}
}
