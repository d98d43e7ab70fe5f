package kafka

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

func cluster(t testing.TB, topics ...string) *kfake.Cluster {
	t.Helper()
	k, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	return k
}

func openSink(t testing.TB, k *kfake.Cluster, edit func(*Config)) *Sink {
	t.Helper()
	c := DefaultConfig()
	c.Brokers = k.ListenAddrs()
	c.DeadLetter = filepath.Join(t.TempDir(), "dl.ndjson")
	c.Timeout = 5 * time.Second
	if edit != nil {
		edit(c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := Open("kafka-test", *c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// consume reads n records from topic.
func consume(t testing.TB, k *kfake.Cluster, topic string, n int) []*kgo.Record {
	return consumeAs(t, k, "", topic, n)
}

// consumeAs is consume as the superuser svc/s3cret of mechanism (none
// when empty).
func consumeAs(t testing.TB, k *kfake.Cluster, mechanism, topic string, n int) []*kgo.Record {
	t.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(k.ListenAddrs()...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	switch mechanism {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: "svc", Pass: "s3cret"}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: "svc", Pass: "s3cret"}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: "svc", Pass: "s3cret"}.AsSha512Mechanism()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d of %d records read from %s", len(out), n, topic)
		}
		out = append(out, f.Records()...)
	}
	return out
}

func TestProduce(t *testing.T) {
	cases := []struct {
		name      string
		edit      func(*Config)
		wantTopic string
		wantKey   func(i int) string
	}{
		{"topic per dataset, keyed by host", nil, "defender.device_process_events", func(i int) string { return "p-" + itoa(i) }},
		{"fixed topic, keyed by dataset", func(c *Config) { c.Topic, c.Key = "ecs", "dataset" }, "ecs", func(int) string { return "device_process_events" }},
		{"no key, zstd", func(c *Config) { c.Key, c.Compression = "none", "zstd" }, "defender.device_process_events", func(int) string { return "" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := cluster(t, tc.wantTopic)
			s := openSink(t, k, tc.edit)
			docs := forwardtest.Docs(20, "p")
			if err := s.Write(context.Background(), docs); err != nil {
				t.Fatal(err)
			}
			recs := consume(t, k, tc.wantTopic, 20)
			byValue := map[string]string{}
			for _, r := range recs {
				byValue[string(r.Value)] = string(r.Key)
			}
			for i, d := range docs {
				key, ok := byValue[string(d.JSON)]
				if !ok {
					t.Fatalf("document %d not produced as is", i)
				}
				if key != tc.wantKey(i) {
					t.Errorf("document %d key %q, want %q", i, key, tc.wantKey(i))
				}
			}
		})
	}
}

// A broker that refuses produce requests for a while makes Write hand
// the records back; once it accepts, the retried records arrive once.
func TestBrokerErrorsHandBack(t *testing.T) {
	k := cluster(t, "defender.device_process_events")
	var refuse atomic.Bool
	refuse.Store(true)
	k.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		k.KeepControl()
		if !refuse.Load() {
			return nil, nil, false
		}
		r := req.(*kmsg.ProduceRequest)
		resp := r.ResponseKind().(*kmsg.ProduceResponse)
		for _, tp := range r.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic, rt.TopicID = tp.Topic, tp.TopicID
			for _, p := range tp.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = kerr.NotEnoughReplicas.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	s := openSink(t, k, func(c *Config) { c.Timeout = time.Second })
	docs := forwardtest.Docs(10, "b")
	err := s.Write(context.Background(), docs)
	var pe *sink.PartialError
	if !errors.As(err, &pe) || len(pe.Failed) != 10 {
		t.Fatalf("Write = %v, want all 10 handed back", err)
	}
	refuse.Store(false)
	if err := s.Write(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	if recs := consume(t, k, "defender.device_process_events", 10); len(recs) != 10 {
		t.Errorf("%d records, want 10", len(recs))
	}
}

func TestTooLargeDeadLettered(t *testing.T) {
	k := cluster(t, "defender.device_process_events")
	s := openSink(t, k, nil)
	docs := forwardtest.Docs(3, "l")
	big := `{"host":{"name":"big"},"message":"` + strings.Repeat("x", 2<<20) + `"}`
	docs[1] = sink.Doc{JSON: []byte(big), Dataset: "device_process_events"}
	if err := s.Write(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	dl := forwardtest.DeadLetters(t, s.cfg.DeadLetter)
	if len(dl) != 1 || !strings.Contains(dl[0]["reason"].(string), "MESSAGE_TOO_LARGE") || len(dl[0]["raw"].(string)) != 2<<20 {
		t.Errorf("dead letters: %d entries %.300v (want the large one with its reason)", len(dl), dl)
	}
	if recs := consume(t, k, "defender.device_process_events", 2); len(recs) != 2 {
		t.Errorf("%d records produced, want the 2 others", len(recs))
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"ok", func(c *Config) {}, ""},
		{"no brokers", func(c *Config) { c.Brokers = nil }, "brokers"},
		{"no topic", func(c *Config) { c.TopicPrefix = "" }, "topic"},
		{"bad key", func(c *Config) { c.Key = "user" }, "key"},
		{"bad compression", func(c *Config) { c.Compression = "brotli" }, "compression"},
		{"sasl without password", func(c *Config) { c.SASL.Mechanism, c.SASL.Username = "PLAIN", "u" }, "sasl"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Brokers = []string{"127.0.0.1:9092"}
			tc.edit(c)
			err := c.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
