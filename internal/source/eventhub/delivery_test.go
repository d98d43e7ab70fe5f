package eventhub

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
)

const (
	hubPartitions  = 4
	eventRecords   = 10 // records per Event Hub event
	hubBatchEvents = 50
)

// fakeHub is an Event Hub's partitions in memory, standing in for the
// AMQP side (which cannot run here). A partition client reads it from
// the checkpoint in the real blob store (Azurite), as the SDK's Processor
// starts a claimed partition, so a restart shows what the checkpoints
// recorded.
type fakeHub struct {
	mu    sync.Mutex
	parts [hubPartitions][]*azeventhubs.ReceivedEventData
	next  int           // partition of the next event (round robin)
	grew  chan struct{} // closed when events are added
	store azeventhubs.CheckpointStore
	cfg   Config // the checkpoint container's section
}

func (h *fakeHub) add(bodies [][]byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	enq := time.Now()
	for _, b := range bodies {
		p := &h.parts[h.next]
		seq := int64(len(*p))
		*p = append(*p, &azeventhubs.ReceivedEventData{EventData: azeventhubs.EventData{Body: b},
			SequenceNumber: seq, Offset: fmt.Sprint(seq * 1000), EnqueuedTime: &enq})
		h.next = (h.next + 1) % hubPartitions
	}
	close(h.grew)
	h.grew = make(chan struct{})
}

// checkpoints returns the sequence number checkpointed per partition
// (-1: none).
func (h *fakeHub) checkpoints(ctx context.Context) ([hubPartitions]int64, error) {
	var out [hubPartitions]int64
	for i := range out {
		out[i] = -1
	}
	cps, err := h.store.ListCheckpoints(ctx, "ns.servicebus.windows.net", "hub", "cg", nil)
	if err != nil {
		return out, err
	}
	for _, c := range cps {
		var id int
		if _, err := fmt.Sscan(c.PartitionID, &id); err == nil && id < hubPartitions && c.SequenceNumber != nil {
			out[id] = *c.SequenceNumber
		}
	}
	return out, nil
}

// hubPartition is a claimed partition of a fakeHub.
type hubPartition struct {
	hub *fakeHub
	id  int
	pos int // index of the next event to receive
}

func (p *hubPartition) PartitionID() string { return fmt.Sprint(p.id) }

func (p *hubPartition) ReceiveEvents(ctx context.Context, n int, _ *azeventhubs.ReceiveEventsOptions) ([]*azeventhubs.ReceivedEventData, error) {
	for {
		p.hub.mu.Lock()
		evs := p.hub.parts[p.id]
		grew := p.hub.grew
		p.hub.mu.Unlock()
		if p.pos < len(evs) {
			k := min(n, len(evs)-p.pos)
			out := evs[p.pos : p.pos+k]
			p.pos += k
			return out, nil
		}
		select {
		case <-grew:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (p *hubPartition) UpdateCheckpoint(ctx context.Context, e *azeventhubs.ReceivedEventData, _ *azeventhubs.UpdateCheckpointOptions) error {
	seq := e.SequenceNumber
	return p.hub.store.SetCheckpoint(ctx, azeventhubs.Checkpoint{ConsumerGroup: "cg", EventHubName: "hub", FullyQualifiedNamespace: "ns.servicebus.windows.net",
		PartitionID: p.PartitionID(), SequenceNumber: &seq, Offset: &e.Offset}, nil)
}

func (p *hubPartition) Close(context.Context) error { return nil }

// hubs holds one fakeHub, with its own checkpoint container, per test
// directory.
type hubs struct {
	cs string // Azurite connection string
	mu sync.Mutex
	m  map[string]*fakeHub
}

func (hs *hubs) get(t *testing.T, dir string) *fakeHub {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if h, ok := hs.m[dir]; ok {
		return h
	}
	cfg := *DefaultConfig()
	cfg.StorageConnectionString, cfg.StorageContainerName = config.NewSecret(hs.cs), fmt.Sprintf("delivery-%d", time.Now().UnixNano())
	cfg.CheckpointInterval, cfg.MaxBatchEvents = 20*time.Millisecond, hubBatchEvents
	cc, err := openContainer(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Delete(context.Background(), nil) })
	store, err := newCheckpointStore(cc)
	if err != nil {
		t.Fatal(err)
	}
	h := &fakeHub{grew: make(chan struct{}), store: store, cfg: cfg}
	hs.m[dir] = h
	return h
}

func (hs *hubs) harness() deliverytest.SourceHarness {
	return deliverytest.SourceHarness{
		// No Entry: the binary would need a real Event Hub.
		Produce: func(t *testing.T, dir string, records [][]byte) {
			var bodies [][]byte
			for len(records) > 0 {
				n := min(eventRecords, len(records))
				bodies = append(bodies, deliverytest.Envelope(records[:n]))
				records = records[n:]
			}
			hs.get(t, dir).add(bodies)
		},
		Open: func(t *testing.T, dir string, env deliverytest.Env) pipeline.Source {
			h := hs.get(t, dir)
			src := New("in", h.cfg, sourceEnv(env.Logger, env.Metrics))
			src.connect = func(ctx context.Context) (balancer, string, error) {
				// Claimed partitions start after their checkpoint.
				cps, err := h.checkpoints(ctx)
				if err != nil {
					return nil, "", err
				}
				b := &fakeBalancer{parts: make(chan partitionClient, hubPartitions)}
				for i := range hubPartitions {
					b.parts <- &hubPartition{hub: h, id: i, pos: int(cps[i] + 1)}
				}
				return b, "hub", nil
			}
			return src
		},
		Delivered: func(t *testing.T, dir string) int {
			cps, err := hs.get(t, dir).checkpoints(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, c := range cps {
				n += int(c+1) * eventRecords
			}
			return n
		},
		MaxBatchMessages:  hubBatchEvents,
		RecordsPerMessage: eventRecords,
	}
}

// TestDelivery runs the delivery suite's in-process tests (partial sink
// failures, graceful stops) on the Event Hub source, with checkpoints in
// Azurite.
func TestDelivery(t *testing.T) {
	hs := &hubs{cs: azurite(t), m: map[string]*fakeHub{}}
	deliverytest.RunSourceSuite(t, hs.harness())
}
