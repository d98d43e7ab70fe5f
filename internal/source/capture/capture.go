// Package capture is the source that backfills from the Avro files Event
// Hubs Capture writes (to a blob container, or a local copy of it): each
// Capture event's Body is an Event Hub message, delivered through the
// pipeline like a live one. Progress (files finished, records delivered
// of the file being read) is saved to a state file, so a stopped or
// killed backfill resumes where delivery stopped.
package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/defender-intake/defender-intake/internal/checkpoint"
	"github.com/defender-intake/defender-intake/internal/metrics"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/source"
)

func init() {
	source.Register("capture", source.Factory{
		NewSection: func() source.Section { return DefaultConfig() },
		Open: func(name string, s source.Section, env source.Env) (pipeline.Source, error) {
			return New(name, *s.(*Config), env)
		},
	})
}

// Event is one Capture record (the schema Event Hubs Capture writes,
// Microsoft.ServiceBus.Messaging.EventData).
type Event struct {
	SequenceNumber   int64          `avro:"SequenceNumber"`
	Offset           string         `avro:"Offset"`
	EnqueuedTimeUtc  string         `avro:"EnqueuedTimeUtc"`
	SystemProperties map[string]any `avro:"SystemProperties"`
	Properties       map[string]any `avro:"Properties"`
	Body             []byte         `avro:"Body"`
}

// Schema is the Avro schema of Capture files.
const Schema = `{"type":"record","name":"EventData","namespace":"Microsoft.ServiceBus.Messaging","fields":[
{"name":"SequenceNumber","type":"long"},
{"name":"Offset","type":"string"},
{"name":"EnqueuedTimeUtc","type":"string"},
{"name":"SystemProperties","type":{"type":"map","values":["long","double","string","bytes"]}},
{"name":"Properties","type":{"type":"map","values":["long","double","string","bytes","null"]}},
{"name":"Body","type":["null","bytes"]}]}`

// Source reads Capture files in name order.
type Source struct {
	name  string
	cfg   Config
	store store
	log   *slog.Logger
	m     *metrics.Metrics
	state checkpoint.File

	mu       sync.Mutex
	progress map[string]*filePos
	dirty    bool
	// saver saves progress soon after an acknowledgement moves it.
	saver *checkpoint.Saver
}

// filePos is the saved progress of one file. Records counts the Capture
// events delivered from its start (acknowledgements of one file arrive in
// order, so they are contiguous).
type filePos struct {
	Size    int64 `json:"size"`
	Records int64 `json:"records"`
	Done    bool  `json:"done"`
}

// New returns a capture source; nothing is read until Run.
func New(name string, cfg Config, env source.Env) (*Source, error) {
	if env.Logger == nil {
		env.Logger = slog.Default()
	}
	if env.Metrics == nil {
		env.Metrics = metrics.New()
	}
	s := &Source{name: name, cfg: cfg, log: env.Logger.With("source", name), m: env.Metrics, progress: map[string]*filePos{}}
	if cfg.Path != "" {
		s.store = dirStore{root: cfg.Path, missingOK: cfg.Follow}
	} else {
		bs, err := openBlobStore(cfg)
		if err != nil {
			return nil, fmt.Errorf("capture source %s: %w", name, err)
		}
		s.store = bs
	}
	path := cfg.StatePath
	if path == "" {
		path = "data/capture-" + name + ".json"
	}
	s.state = checkpoint.File{Path: path}
	return s, nil
}

// Name implements pipeline.Source.
func (s *Source) Name() string { return s.name }

// Run implements pipeline.Source: it reads every file not finished yet
// (and, with follow, new ones as they appear), then waits for the
// acknowledgements and saves the progress.
func (s *Source) Run(ctx context.Context, out pipeline.Emitter) error {
	if err := s.state.Load(&s.progress); err != nil {
		return fmt.Errorf("capture source %s: %w", s.name, err)
	}
	var inflight sync.WaitGroup
	stop := make(chan struct{})
	reporterDone := make(chan struct{})
	p := newProgress(s.log)
	s.saver = checkpoint.NewSaver(s.cfg.CheckpointInterval, s.save)
	go func() {
		defer close(reporterDone)
		report := time.NewTicker(s.cfg.ProgressInterval)
		defer report.Stop()
		for {
			select {
			case <-report.C:
				p.log(false)
			case <-stop:
				return
			}
		}
	}()
	err := s.readAll(ctx, out, &inflight, p)
	inflight.Wait()
	close(stop)
	<-reporterDone
	s.saver.Close() // a failure was logged and counted
	p.log(true)
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		return nil
	}
	return err
}

func (s *Source) readAll(ctx context.Context, out pipeline.Emitter, inflight *sync.WaitGroup, p *progress) error {
	started := map[string]bool{}
	for {
		files, err := s.store.List(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("capture source %s: %w", s.name, err)
		}
		var todo []file
		for _, f := range files {
			if started[f.Name] {
				continue
			}
			s.mu.Lock()
			pos := s.progress[f.Name]
			s.mu.Unlock()
			if pos != nil && pos.Done && pos.Size == f.Size {
				started[f.Name] = true
				continue
			}
			todo = append(todo, f)
		}
		p.add(todo)
		if len(todo) > 0 {
			s.log.Info("capture backfill: files to read", "files", len(todo), "from", s.store.Describe())
		}
		for _, f := range todo {
			started[f.Name] = true
			if err := s.readFile(ctx, f, out, inflight, p); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		if !s.cfg.Follow {
			return nil
		}
		t := time.NewTimer(s.cfg.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
