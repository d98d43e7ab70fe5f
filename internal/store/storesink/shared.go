package storesink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/defender-intake/defender-intake/internal/store"
)

// One open store per data directory per process. DuckDB lets one process
// at a time write a database file, and `run` may have a store sink and
// one or more detection sinks on the same directory: they all get the
// same *store.Store, and closing one does not close it under the others.
//
// The first to acquire a directory opens the store with its configuration
// and starts its retention (events and alerts, every minute); the last to
// release it stops the retention and closes the store.

// RetentionEvery is how often a shared store applies its retention.
const RetentionEvery = time.Minute

type openStore struct {
	st     *store.Store
	cfg    store.Config
	refs   int
	cancel context.CancelFunc
	done   chan struct{}
}

var shared struct {
	mu    sync.Mutex
	byDir map[string]*openStore
	bySt  map[*store.Store]string
}

func dirKey(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("store: data directory %s: %w", dir, err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	return abs, nil
}

// Acquire returns the process's store for cfg.Dir, opening it with cfg
// when it is not open yet. When it is open already, cfg's retention
// (max_age, max_bytes) must be the one it was opened with: two sinks
// disagreeing on how long events live is a configuration error, reported
// with both values. Every Acquire needs one Release.
func Acquire(ctx context.Context, cfg store.Config, log *slog.Logger) (*store.Store, error) {
	return acquire(ctx, cfg, true, log)
}

// AcquireDir returns the process's store for dir whatever its
// configuration, opening it with the store's defaults (retention
// included) when it is not open yet. It is for users of the store that do
// not own its events (the detection sink). Every AcquireDir needs one
// Release.
func AcquireDir(ctx context.Context, dir string, log *slog.Logger) (*store.Store, error) {
	cfg := store.DefaultConfig()
	cfg.Dir = dir
	return acquire(ctx, cfg, false, log)
}

func acquire(ctx context.Context, cfg store.Config, strict bool, log *slog.Logger) (*store.Store, error) {
	if log == nil {
		log = slog.Default()
	}
	key, err := dirKey(cfg.Dir)
	if err != nil {
		return nil, err
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if o, ok := shared.byDir[key]; ok {
		if strict && (o.cfg.MaxAge != cfg.MaxAge || o.cfg.MaxBytes != cfg.MaxBytes) {
			return nil, fmt.Errorf("store %s is already open in this process with max_age %s and max_bytes %d; this one asks for max_age %s and max_bytes %d: give every user of the directory the same retention",
				cfg.Dir, o.cfg.MaxAge, o.cfg.MaxBytes, cfg.MaxAge, cfg.MaxBytes)
		}
		o.refs++
		return o.st, nil
	}
	st, err := store.Open(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.Background())
	o := &openStore{st: st, cfg: cfg, refs: 1, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(o.done)
		st.RunRetention(rctx, RetentionEvery)
	}()
	if shared.byDir == nil {
		shared.byDir, shared.bySt = map[string]*openStore{}, map[*store.Store]string{}
	}
	shared.byDir[key], shared.bySt[st] = o, key
	return st, nil
}

// Release gives back a store from Acquire or AcquireDir; the last release
// of a directory closes its store (loading what is pending and
// checkpointing), returning Close's error.
func Release(st *store.Store) error {
	shared.mu.Lock()
	key, ok := shared.bySt[st]
	if !ok {
		shared.mu.Unlock()
		return errors.New("store: released a store that is not open")
	}
	o := shared.byDir[key]
	if o.refs--; o.refs > 0 {
		shared.mu.Unlock()
		return nil
	}
	// Closed under the lock: an Acquire of the same directory waits for
	// the file to be free instead of finding it still open.
	defer shared.mu.Unlock()
	delete(shared.byDir, key)
	delete(shared.bySt, st)
	o.cancel()
	<-o.done
	return st.Close()
}
