package eventhub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/deadletter"
	"github.com/defender-intake/defender-intake/internal/metrics"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/sink"
	filesink "github.com/defender-intake/defender-intake/internal/sink/file"
	"github.com/defender-intake/defender-intake/internal/source"
)

const (
	hubCS     = "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=c2VjcmV0"
	storageCS = "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net"
)

func TestValidate(t *testing.T) {
	valid := func() Config {
		c := *DefaultConfig()
		c.HubName, c.HubConnectionString = "hub", config.NewSecret(hubCS)
		c.StorageContainerName, c.StorageConnectionString = "ckpt", config.NewSecret(storageCS)
		return c
	}
	tests := []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{name: "the five values", change: func(c *Config) {}},
		{name: "EntityPath instead of hub_name", change: func(c *Config) {
			c.HubName, c.HubConnectionString = "", config.NewSecret(hubCS+";EntityPath=hub")
		}},
		{name: "EntityPath and same hub_name", change: func(c *Config) { c.HubConnectionString = config.NewSecret(hubCS + ";EntityPath=hub") }},
		{name: "EntityPath differs", change: func(c *Config) { c.HubConnectionString = config.NewSecret(hubCS + ";EntityPath=other") }, want: "differs"},
		{name: "no hub name anywhere", change: func(c *Config) { c.HubName = "" }, want: "hub_name: required"},
		{name: "not a connection string", change: func(c *Config) { c.HubConnectionString = config.NewSecret("AccountKey=topsecret") }, want: "not an Event Hubs connection string"},
		{name: "entra", change: func(c *Config) {
			c.HubConnectionString, c.Namespace = config.Secret{}, "ns.servicebus.windows.net"
			c.StorageConnectionString, c.StorageAccountURL = config.Secret{}, "https://a.blob.core.windows.net"
		}},
		{name: "both auths", change: func(c *Config) { c.Namespace = "ns.servicebus.windows.net" }, want: "not both"},
		{name: "no storage", change: func(c *Config) { c.StorageConnectionString = config.Secret{} }, want: "storage_connection_string: required"},
		{name: "no container", change: func(c *Config) { c.StorageContainerName = "" }, want: "storage_container_name: required"},
		{name: "start position", change: func(c *Config) { c.StartPosition = "now" }, want: "start_position"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.change(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "topsecret") || strings.Contains(err.Error(), "c2VjcmV0") {
				t.Errorf("error message leaks the secret: %v", err)
			}
		})
	}
}

// The five keys of the setup guide are the config keys, one to one.
func TestSetupGuideKeys(t *testing.T) {
	y := `
sources:
  - type: eventhub
    hub_name: sekoia_event_hub
    hub_connection_string: "` + hubCS + `"
    hub_consumer_group: consumergroup_sekoiaio
    storage_container_name: sekoiaio
    storage_connection_string: "` + storageCS + `"
sinks:
  - {type: file, path: /tmp/x}
`
	c, err := config.Parse("guide.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s := c.Sources[0].Section.(*Config)
	if s.HubName != "sekoia_event_hub" || s.HubConsumerGroup != "consumergroup_sekoiaio" || s.StorageContainerName != "sekoiaio" ||
		s.HubConnectionString.Value() != hubCS || s.StorageConnectionString.Value() != storageCS {
		t.Errorf("keys not mapped: %+v", s)
	}
}

// fakePartition stands in for the AMQP receiver (which cannot run here)
// and writes checkpoints, like the SDK's ProcessorPartitionClient, into a
// real checkpoint store.
type fakePartition struct {
	id     string
	mu     sync.Mutex
	events []*azeventhubs.ReceivedEventData
	lose   bool // when drained, report that another instance took over
	store  azeventhubs.CheckpointStore
	closed bool
}

func (f *fakePartition) PartitionID() string { return f.id }
func (f *fakePartition) ReceiveEvents(ctx context.Context, n int, _ *azeventhubs.ReceiveEventsOptions) ([]*azeventhubs.ReceivedEventData, error) {
	f.mu.Lock()
	k := min(n, len(f.events))
	out := f.events[:k]
	f.events = f.events[k:]
	lose := f.lose && len(f.events) == 0
	f.mu.Unlock()
	if k > 0 {
		return out, nil
	}
	if lose {
		return nil, &azeventhubs.Error{Code: azeventhubs.ErrorCodeOwnershipLost}
	}
	<-ctx.Done()
	return nil, ctx.Err()
}
func (f *fakePartition) UpdateCheckpoint(ctx context.Context, e *azeventhubs.ReceivedEventData, _ *azeventhubs.UpdateCheckpointOptions) error {
	seq := e.SequenceNumber
	return f.store.SetCheckpoint(ctx, azeventhubs.Checkpoint{ConsumerGroup: "cg", EventHubName: "hub", FullyQualifiedNamespace: "ns.servicebus.windows.net",
		PartitionID: f.id, SequenceNumber: &seq, Offset: &e.Offset}, nil)
}
func (f *fakePartition) Close(context.Context) error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}

type fakeBalancer struct {
	parts chan partitionClient
}

func (b *fakeBalancer) Run(ctx context.Context) error {
	<-ctx.Done()
	close(b.parts)
	return nil
}
func (b *fakeBalancer) NextPartitionClient(ctx context.Context) partitionClient {
	select {
	case p, ok := <-b.parts:
		if !ok {
			return nil
		}
		return p
	case <-ctx.Done():
		return nil
	}
}
func (b *fakeBalancer) LastEnqueuedSequenceNumber(context.Context, string) (int64, error) {
	return 0, errors.New("unknown")
}
func (b *fakeBalancer) Close(context.Context) error { return nil }

// events returns n Event Hub events whose bodies are envelopes of per
// records, with sequence numbers from 0.
func events(n, per int, run string) []*azeventhubs.ReceivedEventData {
	recs := deliverytest.Records(n*per, run)
	out := make([]*azeventhubs.ReceivedEventData, n)
	enq := time.Now().Add(-time.Minute)
	for i := range out {
		out[i] = &azeventhubs.ReceivedEventData{
			EventData:      azeventhubs.EventData{Body: deliverytest.Envelope(recs[i*per : (i+1)*per])},
			SequenceNumber: int64(i), Offset: fmt.Sprint(i * 1000), EnqueuedTime: &enq,
		}
	}
	return out
}

func checkpointOf(t *testing.T, store azeventhubs.CheckpointStore, id string) int64 {
	t.Helper()
	cps, err := store.ListCheckpoints(context.Background(), "ns.servicebus.windows.net", "hub", "cg", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cps {
		if c.PartitionID == id && c.SequenceNumber != nil {
			return *c.SequenceNumber
		}
	}
	return -1
}

// failingSink wraps the real file sink and rejects everything while fail
// is set.
type failingSink struct {
	sink.Sink
	mu    sync.Mutex
	fail  bool
	calls int
}

func (f *failingSink) Write(ctx context.Context, docs []sink.Doc) error {
	f.mu.Lock()
	fail := f.fail
	f.calls++
	f.mu.Unlock()
	if fail {
		return errors.New("injected outage")
	}
	return f.Sink.Write(ctx, docs)
}

// Checkpoints in the real blob store (Azurite) advance only once the sink
// has accepted the events, and a shutdown writes the last delivered one.
func TestCheckpointsFollowDelivery(t *testing.T) {
	cs := azurite(t)
	cfg := *DefaultConfig()
	cfg.StorageConnectionString, cfg.StorageContainerName = config.NewSecret(cs), fmt.Sprintf("ckpt-%d", time.Now().UnixNano())
	cfg.CheckpointInterval = 20 * time.Millisecond
	cfg.MaxBatchEvents = 10
	cc, err := openContainer(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	store, err := newCheckpointStore(cc)
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	fs, err := filesink.Open("out", filesink.Config{Path: filepath.Join(dir, "out.ndjson")})
	if err != nil {
		t.Fatal(err)
	}
	snk := &failingSink{Sink: fs, fail: true}
	p0 := &fakePartition{id: "0", events: events(50, 4, "p0"), store: store}
	p1 := &fakePartition{id: "1", events: events(30, 4, "p1"), store: store, lose: true}
	b := &fakeBalancer{parts: make(chan partitionClient, 2)}
	b.parts <- p0
	b.parts <- p1
	m := metrics.New()
	log := slog.New(slog.DiscardHandler)
	src := New("eh", cfg, sourceEnv(log, m))
	src.connect = func(context.Context) (balancer, string, error) { return b, "hub", nil }
	dl, err := deadletter.OpenFile(filepath.Join(dir, "dead.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	pl := pipeline.New(pipeline.Options{Sinks: []sink.Sink{snk}, DeadLetter: dl, Metrics: m, Logger: log,
		Workers: 2, QueueBatches: 2, RetryInitial: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pl.Run(ctx, []pipeline.Source{src}) }()

	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		snk.mu.Lock()
		calls := snk.calls
		snk.mu.Unlock()
		if calls > 5 {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("sink never called")
		}
	}
	time.Sleep(200 * time.Millisecond) // ten checkpoint intervals
	if c0, c1 := checkpointOf(t, store, "0"), checkpointOf(t, store, "1"); c0 != -1 || c1 != -1 {
		t.Fatalf("checkpoints %d/%d written while the sink accepted nothing", c0, c1)
	}

	snk.mu.Lock()
	snk.fail = false
	snk.mu.Unlock()
	want := append(deliverytest.IDs(200, "p0"), deliverytest.IDs(120, "p1")...)
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		missing, ex, _ := deliverytest.Check(deliverytest.Count(deliverytest.ReadNDJSON(t, filepath.Join(dir, "out.ndjson"))), want)
		if missing == 0 {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("%d records missing (e.g. %s)", missing, ex)
		}
	}
	// The events were enqueued a minute ago: the lag says so.
	if lag := testutil.ToFloat64(m.LagSeconds.WithLabelValues("eh", "0")); lag < 59 || lag > 120 {
		t.Errorf("consumer_lag_seconds = %v, want about 60", lag)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c0 := checkpointOf(t, store, "0"); c0 != 49 {
		t.Errorf("partition 0 checkpoint = %d after shutdown, want 49 (the last delivered event)", c0)
	}
	// Partition 1 was taken over by "another instance": its checkpoint is
	// whatever was delivered before, and it was released quietly.
	if c1 := checkpointOf(t, store, "1"); c1 > 29 {
		t.Errorf("partition 1 checkpoint = %d beyond its last event", c1)
	}
	if !p0.closed || !p1.closed {
		t.Error("partition clients not closed")
	}
}

// Ownership claims round-trip through the SDK's blob store: two instances
// racing for one partition, only one wins; checkpoints read back.
func TestBlobStoreOwnership(t *testing.T) {
	cs := azurite(t)
	cfg := Config{StorageConnectionString: config.NewSecret(cs), StorageContainerName: fmt.Sprintf("own-%d", time.Now().UnixNano())}
	ctx := context.Background()
	cc, err := openContainer(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openContainer(ctx, cfg, nil); err != nil {
		t.Fatalf("second open of an existing container: %v", err)
	}
	store, err := newCheckpointStore(cc)
	if err != nil {
		t.Fatal(err)
	}
	base := azeventhubs.Ownership{ConsumerGroup: "cg", EventHubName: "hub", FullyQualifiedNamespace: "ns.servicebus.windows.net", PartitionID: "0"}
	a, b := base, base
	a.OwnerID, b.OwnerID = "instance-a", "instance-b"
	got, err := store.ClaimOwnership(ctx, []azeventhubs.Ownership{a}, nil)
	if err != nil || len(got) != 1 {
		t.Fatalf("first claim: %v %v", got, err)
	}
	// b claims with no ETag (it believes the partition unowned): must lose.
	got, err = store.ClaimOwnership(ctx, []azeventhubs.Ownership{b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("second instance claimed an owned partition: %+v", got)
	}
	owners, err := store.ListOwnership(ctx, base.FullyQualifiedNamespace, base.EventHubName, base.ConsumerGroup, nil)
	if err != nil || len(owners) != 1 || owners[0].OwnerID != "instance-a" {
		t.Fatalf("owners %+v, %v", owners, err)
	}
	// Taking over with the current ETag (what the balancer does after
	// expiry) succeeds.
	b.ETag = owners[0].ETag
	got, err = store.ClaimOwnership(ctx, []azeventhubs.Ownership{b}, nil)
	if err != nil || len(got) != 1 {
		t.Fatalf("takeover: %v %v", got, err)
	}
}

func sourceEnv(log *slog.Logger, m *metrics.Metrics) source.Env {
	return source.Env{Logger: log, Metrics: m}
}
