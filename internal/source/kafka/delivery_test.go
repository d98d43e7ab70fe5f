package kafka_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/source"
	"github.com/defender-intake/defender-intake/internal/source/kafka"
)

const (
	topic      = "defender"
	partitions = 4
	perMessage = 10 // records per envelope
	maxBatch   = 50 // messages per batch
	group      = "intake-test"
)

// clusters holds one in-process Kafka (kfake, the real protocol) per test
// directory.
type clusters struct {
	mu sync.Mutex
	m  map[string]*kfake.Cluster
}

func (c *clusters) get(t *testing.T, dir string) *kfake.Cluster {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.m[dir]; ok {
		return k
	}
	k, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	c.m[dir] = k
	return k
}

// commitInterval is short so that the records delivered in one interval,
// which a kill makes the group read again, stay few at the pipeline's rate.
const commitInterval = 10 * time.Millisecond

func sectionFor(brokers []string) kafka.Config {
	c := *kafka.DefaultConfig()
	c.Brokers, c.Topics, c.Group = brokers, []string{topic}, group
	c.MaxBatchMessages, c.CommitInterval = maxBatch, commitInterval
	c.SessionTimeout = 6 * time.Second // the broker's minimum; a killed member is dropped quickly
	return c
}

// produce writes envelopes of perMessage records, round-robin over the
// partitions.
func produce(t *testing.T, brokers []string, records [][]byte) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Error(err)
		return
	}
	defer cl.Close()
	var recs []*kgo.Record
	for len(records) > 0 {
		n := min(perMessage, len(records))
		recs = append(recs, &kgo.Record{Value: deliverytest.Envelope(records[:n])})
		records = records[n:]
		if len(recs) == 100 || len(records) == 0 {
			if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				t.Error(err)
				return
			}
			recs = recs[:0]
		}
	}
}

func committed(t *testing.T, brokers []string) int {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(context.Background(), group)
	if err != nil {
		return 0
	}
	n := 0
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At > 0 {
			n += int(o.At)
		}
	})
	return n * perMessage
}

func harness(cs *clusters) deliverytest.SourceHarness {
	return deliverytest.SourceHarness{
		Entry: func(t *testing.T, dir string) map[string]any {
			c := sectionFor(cs.get(t, dir).ListenAddrs())
			return map[string]any{"name": "in", "type": "kafka", "brokers": c.Brokers, "topics": c.Topics, "group": c.Group,
				"max_batch_messages": c.MaxBatchMessages, "commit_interval": commitInterval.String(), "session_timeout": "6s"}
		},
		Open: func(t *testing.T, dir string, env deliverytest.Env) pipeline.Source {
			s, err := kafka.New("in", sectionFor(cs.get(t, dir).ListenAddrs()), source.Env{Logger: env.Logger, Metrics: env.Metrics})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Produce: func(t *testing.T, dir string, records [][]byte) {
			produce(t, cs.get(t, dir).ListenAddrs(), records)
		},
		Delivered: func(t *testing.T, dir string) int {
			return committed(t, cs.get(t, dir).ListenAddrs())
		},
		MaxBatchMessages:  maxBatch,
		RecordsPerMessage: perMessage,
		// Offsets are committed after acknowledgements, at most once per
		// commitInterval: what was delivered in the last interval before
		// a kill is read again, up to 3,000
		// records at 300,000 records/s (the pipeline does 100,000 and
		// more here: with 50 ms, a kill under load re-read 7,000).
		ExtraDuplicates: 3000,
	}
}

func TestDelivery(t *testing.T) {
	deliverytest.RunSourceSuite(t, harness(&clusters{m: map[string]*kfake.Cluster{}}))
}

// Two instances with one group split the partitions and together deliver
// everything.
func TestTwoInstancesSharePartitions(t *testing.T) {
	cs := &clusters{m: map[string]*kfake.Cluster{}}
	h := harness(cs)
	dir := t.TempDir()
	k := cs.get(t, dir)
	var svcs []*deliverytest.Service
	var dirs []string
	for i := 0; i < 2; i++ {
		d := filepath.Join(dir, string(rune('a'+i)))
		dirs = append(dirs, d)
		cfg := deliverytest.WriteConfig(t, mkdir(t, d), h.Entry(t, dir), map[string]any{"name": "out", "type": "file", "path": filepath.Join(d, "out", "events.ndjson")})
		svcs = append(svcs, deliverytest.Start(t, d, cfg))
	}
	// Wait until both have joined and the group is stable, so that both
	// hold partitions before anything is produced.
	waitMembers(t, k.ListenAddrs(), 2)
	const n = 8000
	produce(t, k.ListenAddrs(), deliverytest.Records(n, "two"))
	want := deliverytest.IDs(n, "two")
	deadline := time.Now().Add(60 * time.Second)
	var per []int
	for {
		all := map[string]int{}
		per = per[:0]
		for _, d := range dirs {
			c := deliverytest.Count(deliverytest.ReadNDJSON(t, filepath.Join(d, "out", "events*.ndjson")))
			per = append(per, len(c))
			for id, v := range c {
				all[id] += v
			}
		}
		if missing, _, _ := deliverytest.Check(all, want); missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			missing, ex, _ := deliverytest.Check(all, want)
			t.Fatalf("%d of %d missing (e.g. %s); per instance %v\n%s", missing, n, ex, per, svcs[0].Stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, s := range svcs {
		s.Stop(30 * time.Second)
	}
	t.Logf("records per instance: %v", per)
	for i, c := range per {
		if c == 0 {
			t.Errorf("instance %d got no partition: the group did not share the work", i)
		}
	}
}

func mkdir(t *testing.T, d string) string {
	if err := mkdirAll(d); err != nil {
		t.Fatal(err)
	}
	return d
}

var mkdirAll = func(d string) error { return os.MkdirAll(d, 0o750) }

func waitMembers(t *testing.T, brokers []string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		gs, err := adm.DescribeGroups(context.Background(), group)
		if err == nil {
			if g, ok := gs[group]; ok && g.Err == nil && g.State == "Stable" && len(g.Members) == n {
				return
			}
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("group never reached %d stable members: %v", n, gs)
		}
	}
}
