// Package eventhub is the source that consumes the Defender streaming
// export from Azure Event Hubs with the SDK's Processor: partitions are
// shared between instances through ownership records in a blob container,
// and each partition's checkpoint is written there only for events that
// the pipeline acknowledged, in order.
//
// The AMQP connection cannot run in tests, so it stays behind two small
// interfaces (balancer, partitionClient) implemented by thin adapters over
// the SDK in azure.go; everything else is tested with fakes of those and a
// real blob checkpoint store on Azurite.
package eventhub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/defender-intake/defender-intake/internal/checkpoint"
	"github.com/defender-intake/defender-intake/internal/metrics"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/source"
)

// partitionClient is one claimed partition. *azeventhubs.ProcessorPartitionClient
// implements it. UpdateCheckpoint must only ever be given an event whose
// records every sink has accepted.
type partitionClient interface {
	PartitionID() string
	ReceiveEvents(ctx context.Context, count int, options *azeventhubs.ReceiveEventsOptions) ([]*azeventhubs.ReceivedEventData, error)
	UpdateCheckpoint(ctx context.Context, latest *azeventhubs.ReceivedEventData, options *azeventhubs.UpdateCheckpointOptions) error
	Close(ctx context.Context) error
}

// balancer hands out the partitions this instance owns (the SDK's
// Processor). Run balances until ctx ends; NextPartitionClient returns nil
// once Run has stopped.
type balancer interface {
	Run(ctx context.Context) error
	NextPartitionClient(ctx context.Context) partitionClient
	// LastEnqueuedSequenceNumber is the newest event of a partition, for
	// lag in messages; an error when unknown.
	LastEnqueuedSequenceNumber(ctx context.Context, partitionID string) (int64, error)
	Close(ctx context.Context) error
}

func init() {
	source.Register("eventhub", source.Factory{
		NewSection: func() source.Section { return DefaultConfig() },
		Open: func(name string, s source.Section, env source.Env) (pipeline.Source, error) {
			return New(name, *s.(*Config), env), nil
		},
	})
}

// Source consumes an Event Hub.
type Source struct {
	name string
	cfg  Config
	log  *slog.Logger
	m    *metrics.Metrics
	// connect builds the balancer; replaced in tests.
	connect func(ctx context.Context) (balancer, string, error)
}

// New returns an Event Hub source; it connects in Run.
func New(name string, cfg Config, env source.Env) *Source {
	if env.Logger == nil {
		env.Logger = slog.Default()
	}
	if env.Metrics == nil {
		env.Metrics = metrics.New()
	}
	s := &Source{name: name, cfg: cfg, log: env.Logger.With("source", name), m: env.Metrics}
	s.connect = func(ctx context.Context) (balancer, string, error) { return connectAzure(ctx, s.cfg, s.log) }
	return s
}

// Name implements pipeline.Source.
func (s *Source) Name() string { return s.name }

// Run implements pipeline.Source: it runs the load balancer and one
// receive loop per owned partition until ctx ends, then waits for the
// partitions to deliver what they emitted and checkpoint it.
func (s *Source) Run(ctx context.Context, out pipeline.Emitter) error {
	b, hub, err := s.connect(ctx)
	if err != nil {
		return fmt.Errorf("event hub source %s: %w", s.name, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.Close(cctx)
	}()
	s.log.Info("event hub source started", "hub", hub, "consumer_group", s.cfg.HubConsumerGroup, "container", s.cfg.StorageContainerName)
	var parts sync.WaitGroup
	parts.Add(1)
	go func() {
		defer parts.Done()
		for {
			pc := b.NextPartitionClient(ctx)
			if pc == nil {
				return
			}
			parts.Add(1)
			go func() {
				defer parts.Done()
				s.runPartition(ctx, b, pc, hub, out)
			}()
		}
	}()
	runErr := b.Run(ctx)
	parts.Wait()
	if runErr != nil && ctx.Err() == nil {
		return fmt.Errorf("event hub source %s: %w", s.name, runErr)
	}
	return nil
}

// partition tracks what was delivered on one partition.
type partition struct {
	mu           sync.Mutex
	delivered    *azeventhubs.ReceivedEventData // last acknowledged event
	checkpointed int64                          // its sequence number once written
	failed       bool                           // a batch failed: stop advancing
	lagAt        time.Time                      // last lag query
	saver        *checkpoint.Saver              // writes delivered soon after it moves
}

// runPartition receives from one partition until ctx ends or the
// partition is claimed by another instance (normal during scale-out: it
// is logged at info level, not as an error).
func (s *Source) runPartition(ctx context.Context, b balancer, pc partitionClient, hub string, out pipeline.Emitter) {
	id := pc.PartitionID()
	log := s.log.With("partition", id)
	log.Info("partition claimed")
	p := &partition{checkpointed: -1}
	var inflight sync.WaitGroup
	// The checkpoint follows acknowledgements, at most once per
	// checkpoint_interval. Each write has its own deadline: the ones
	// during a stop (ctx ended) must still be made.
	p.saver = checkpoint.NewSaver(s.cfg.CheckpointInterval, func() error {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return s.checkpoint(cctx, pc, p, log)
	})
	stopTicker := make(chan struct{})
	tickerDone := make(chan struct{})
	go func() {
		defer close(tickerDone)
		t := time.NewTicker(s.cfg.CheckpointInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.updateLag(ctx, b, id, p)
			case <-stopTicker:
				return
			}
		}
	}()

	lost := false
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, s.cfg.MaxWait)
		events, err := pc.ReceiveEvents(rctx, s.cfg.MaxBatchEvents, nil)
		cancel()
		var emitErr error
		for len(events) > 0 && emitErr == nil {
			n := pipeline.BatchLen(len(events), len(events), func(i int) int { return len(events[i].Body) })
			emitErr = s.emit(ctx, out, hub, id, events[:n], p, &inflight)
			events = events[n:]
		}
		if emitErr != nil {
			break
		}
		if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			continue
		}
		var ehErr *azeventhubs.Error
		if errors.As(err, &ehErr) && ehErr.Code == azeventhubs.ErrorCodeOwnershipLost {
			log.Info("partition now owned by another instance")
			lost = true
			break
		}
		log.Warn("receive failed; releasing the partition so it is claimed again", "err", err)
		break
	}
	inflight.Wait()
	close(stopTicker)
	<-tickerDone
	if lost {
		p.saver.Stop() // the partition is another instance's now
	} else {
		p.saver.Close() // records what was delivered; a failure was logged
	}
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	pc.Close(cctx)
	cancel()
	log.Info("partition released")
}

func (s *Source) emit(ctx context.Context, out pipeline.Emitter, hub, id string, events []*azeventhubs.ReceivedEventData, p *partition, inflight *sync.WaitGroup) error {
	msgs := make([]pipeline.Message, len(events))
	for i, e := range events {
		o := pipeline.Origin{Source: s.name, Type: "eventhub", Stream: hub, Partition: id, Offset: -1, SequenceNumber: e.SequenceNumber}
		if off, err := strconv.ParseInt(e.Offset, 10, 64); err == nil {
			o.Offset = off
		}
		if e.EnqueuedTime != nil {
			o.EnqueuedTime = *e.EnqueuedTime
		}
		msgs[i] = pipeline.Message{Origin: o, Body: e.Body}
	}
	last := events[len(events)-1]
	inflight.Add(1)
	err := out.Emit(ctx, &pipeline.Batch{Messages: msgs, Ack: func(err error) {
		defer inflight.Done()
		p.mu.Lock()
		defer p.mu.Unlock()
		if err != nil {
			p.failed = true
			return
		}
		if !p.failed {
			p.delivered = last
			p.saver.Changed()
		}
	}})
	if err != nil {
		inflight.Done()
	}
	return err
}

// checkpoint writes the last delivered event of the partition, if it moved.
func (s *Source) checkpoint(ctx context.Context, pc partitionClient, p *partition, log *slog.Logger) error {
	p.mu.Lock()
	ev := p.delivered
	done := p.checkpointed
	p.mu.Unlock()
	if ev == nil || ev.SequenceNumber == done {
		return nil
	}
	if err := pc.UpdateCheckpoint(ctx, ev, nil); err != nil {
		s.m.CheckpointErrs.WithLabelValues(s.name).Inc()
		log.Warn("checkpoint not written; it is retried, and at worst events are read again", "err", err)
		return err
	}
	p.mu.Lock()
	p.checkpointed = ev.SequenceNumber
	p.mu.Unlock()
	s.m.Checkpoints.WithLabelValues(s.name).Inc()
	return nil
}

func (s *Source) updateLag(ctx context.Context, b balancer, id string, p *partition) {
	p.mu.Lock()
	ev := p.delivered
	due := time.Since(p.lagAt) >= 30*time.Second
	if due {
		p.lagAt = time.Now()
	}
	p.mu.Unlock()
	if ev == nil || !due {
		return
	}
	last, err := b.LastEnqueuedSequenceNumber(ctx, id)
	if err != nil {
		return
	}
	s.m.LagMessages.WithLabelValues(s.name, id).Set(float64(max(0, last-ev.SequenceNumber)))
}
