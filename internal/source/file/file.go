// Package file is the source that reads Defender records from files:
// NDJSON, envelopes, arrays or pretty-printed JSON, once (replay) or
// following them as they grow. The delivered position of each file is
// saved to a local state file, so a restart resumes where delivery stopped.
package file

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/defender-intake/defender-intake/internal/checkpoint"
	"github.com/defender-intake/defender-intake/internal/metrics"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/source"
)

func init() {
	source.Register("file", source.Factory{
		NewSection: func() source.Section { return DefaultConfig() },
		Open: func(name string, s source.Section, env source.Env) (pipeline.Source, error) {
			return New(name, *s.(*Config), env), nil
		},
	})
}

// Source reads files. Its position per file, tied to the file's identity
// (device and inode), is the byte offset where reading resumes (with the
// records to skip there when it stopped inside an envelope or array), and
// the number of inputs (records and unusable fragments) delivered.
type Source struct {
	name string
	cfg  Config
	log  *slog.Logger
	m    *metrics.Metrics

	mu    sync.Mutex
	state map[string]filePos
	dirty bool
	// reads counts, per path, the times it was read again from the top
	// (replaced or truncated while followed): an acknowledgement of a
	// batch read before that is stale and must not move the position.
	reads map[string]int
	// saver saves state soon after an acknowledgement moves it.
	saver *checkpoint.Saver

	// now is the clock of the incomplete-value timeout (a test's clock).
	now func() time.Time
}

type filePos struct {
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
	Records int64  `json:"records"` // inputs delivered from the top of the file
	// Resume is where reading resumes (envelope.Position). A position
	// saved before it existed has none: the Records inputs are skipped
	// from the top.
	Resume *resumePos `json:"resume,omitempty"`
	// HeadLen and HeadCRC fingerprint the file's first bytes (see
	// otherContent); a position saved before they existed has none.
	HeadLen int    `json:"head_len,omitempty"`
	HeadCRC uint32 `json:"head_crc,omitempty"`
}

type resumePos struct {
	Offset  int64 `json:"offset"`
	Line    int   `json:"line"`
	MidLine bool  `json:"mid_line,omitempty"`
	Skip    int64 `json:"skip,omitempty"`
}

// New returns a file source.
func New(name string, cfg Config, env source.Env) *Source {
	if env.Logger == nil {
		env.Logger = slog.Default()
	}
	if env.Metrics == nil {
		env.Metrics = metrics.New()
	}
	return &Source{name: name, cfg: cfg, log: env.Logger.With("source", name), m: env.Metrics, state: map[string]filePos{}, reads: map[string]int{}, now: time.Now}
}

// Name implements pipeline.Source.
func (s *Source) Name() string { return s.name }

// Run implements pipeline.Source.
func (s *Source) Run(ctx context.Context, out pipeline.Emitter) error {
	if s.cfg.StatePath != "" {
		if err := (checkpoint.File{Path: s.cfg.StatePath}).Load(&s.state); err != nil {
			return err
		}
	}
	var inflight sync.WaitGroup // batches emitted and not yet acknowledged
	s.saver = checkpoint.NewSaver(s.cfg.CheckpointInterval, s.save)

	var (
		readers sync.WaitGroup
		errMu   sync.Mutex
		errs    []error
		started = map[string]bool{}
	)
	startNew := func() error {
		paths, err := s.expand()
		if err != nil {
			return err
		}
		for _, p := range paths {
			if started[p] {
				continue
			}
			started[p] = true
			readers.Add(1)
			go func() {
				defer readers.Done()
				if err := s.readPath(ctx, p, out, &inflight); err != nil {
					errMu.Lock()
					errs = append(errs, err)
					errMu.Unlock()
				}
			}()
		}
		return nil
	}
	err := startNew()
	if err == nil && s.cfg.Follow {
		t := time.NewTicker(s.cfg.PollInterval)
	rescan:
		for {
			select {
			case <-ctx.Done():
				break rescan
			case <-t.C:
				if err = startNew(); err != nil {
					break rescan
				}
			}
		}
		t.Stop()
	}
	readers.Wait()
	inflight.Wait()
	s.saver.Close() // a failure was logged and counted
	if err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (s *Source) expand() ([]string, error) {
	var out []string
	for _, pat := range s.cfg.Paths {
		m, err := filepath.Glob(pat)
		if err != nil {
			return nil, fmt.Errorf("file source %s: pattern %q: %w", s.name, pat, err)
		}
		if len(m) == 0 && !s.cfg.Follow {
			return nil, fmt.Errorf("file source %s: no file matches %q", s.name, pat)
		}
		out = append(out, m...)
	}
	sort.Strings(out)
	return out, nil
}

func (s *Source) save() error {
	if s.cfg.StatePath == "" {
		return nil
	}
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return nil
	}
	snap := make(map[string]filePos, len(s.state))
	for k, v := range s.state {
		snap[k] = v
	}
	s.dirty = false
	s.mu.Unlock()
	if err := (checkpoint.File{Path: s.cfg.StatePath}).Save(snap); err != nil {
		s.m.CheckpointErrs.WithLabelValues(s.name).Inc()
		s.log.Error("saving file positions failed", "err", err)
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
		return err
	}
	s.m.Checkpoints.WithLabelValues(s.name).Inc()
	return nil
}

// readPath reads one path until its end (or, when following, until ctx
// ends), reopening it when it is rotated or truncated.
func (s *Source) readPath(ctx context.Context, path string, out pipeline.Emitter, inflight *sync.WaitGroup) error {
	for {
		reopen, err := s.readOnce(ctx, path, out, inflight)
		if err != nil || !reopen || ctx.Err() != nil {
			return err
		}
		s.log.Info("file replaced or truncated; reading it from the start", "path", path)
		// A file truncated in place keeps its inode: forget its position.
		s.mu.Lock()
		delete(s.state, path)
		s.reads[path]++
		s.dirty = true
		s.mu.Unlock()
		s.saver.Changed()
	}
}

func fileID(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino
	}
	return 0, 0
}
