package kafka

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/sink"
)

// brokers holds, per test directory, an in-process cluster and a
// consumer that collects everything produced to the topic.
var brokers sync.Map

type collected struct {
	k    *kfake.Cluster
	mu   sync.Mutex
	docs [][]byte
}

const deliveryTopic = "defender-ecs"

func brokerFor(t *testing.T, dir string) *collected {
	if v, ok := brokers.Load(dir); ok {
		return v.(*collected)
	}
	k, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, deliveryTopic))
	if err != nil {
		t.Fatal(err)
	}
	c := &collected{k: k}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.ListenAddrs()...), kgo.ConsumeTopics(deliveryTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			f := cl.PollFetches(ctx)
			c.mu.Lock()
			for _, r := range f.Records() {
				c.docs = append(c.docs, r.Value)
			}
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		cl.Close()
		k.Close()
	})
	brokers.Store(dir, c)
	return c
}

func TestDelivery(t *testing.T) {
	deliverytest.RunSinkSuite(t, deliverytest.SinkHarness{
		Entry: func(t *testing.T, dir string) map[string]any {
			c := brokerFor(t, dir)
			return map[string]any{"name": "under-test", "type": "kafka", "brokers": c.k.ListenAddrs(), "topic": deliveryTopic,
				"dead_letter": filepath.Join(dir, "kafka-dl.ndjson")}
		},
		Open: func(t *testing.T, dir string) sink.Sink {
			c := brokerFor(t, dir)
			cfg := DefaultConfig()
			cfg.Brokers, cfg.Topic, cfg.DeadLetter = c.k.ListenAddrs(), deliveryTopic, filepath.Join(dir, "kafka-dl.ndjson")
			s, err := Open("under-test", *cfg)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Read: func(t *testing.T, dir string) [][]byte {
			c := brokerFor(t, dir)
			c.mu.Lock()
			defer c.mu.Unlock()
			return append([][]byte(nil), c.docs...)
		},
	})
}
