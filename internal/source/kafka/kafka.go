// Package kafka is the source that consumes Defender records from Kafka
// or from the Event Hubs Kafka endpoint with a consumer group
// (github.com/twmb/franz-go). Offsets are committed only for messages the
// pipeline acknowledged, per partition and in order, never on read.
package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/defender-intake/defender-intake/internal/checkpoint"
	"github.com/defender-intake/defender-intake/internal/metrics"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/source"
)

func init() {
	source.Register("kafka", source.Factory{
		NewSection: func() source.Section { return DefaultConfig() },
		Open: func(name string, s source.Section, env source.Env) (pipeline.Source, error) {
			return New(name, *s.(*Config), env)
		},
	})
}

// Source is a Kafka consumer group member.
type Source struct {
	name string
	cfg  Config
	log  *slog.Logger
	m    *metrics.Metrics
	opts []kgo.Opt

	mu sync.Mutex
	// owned maps each assigned partition to its assignment generation;
	// acknowledgements of an older generation are dropped, because the
	// partition may now belong to another member.
	owned map[topicPart]uint64
	gen   uint64
	// acked is the next offset to commit per partition (last delivered
	// offset + 1); committed is what the group has.
	acked     map[topicPart]kgo.EpochOffset
	committed map[topicPart]int64
	// saver commits soon after an acknowledgement moves acked.
	saver *checkpoint.Saver
}

type topicPart struct {
	topic string
	part  int32
}

// New validates the client options; nothing connects until Run.
func New(name string, cfg Config, env source.Env) (*Source, error) {
	if env.Logger == nil {
		env.Logger = slog.Default()
	}
	if env.Metrics == nil {
		env.Metrics = metrics.New()
	}
	s := &Source{name: name, cfg: cfg, log: env.Logger.With("source", name), m: env.Metrics,
		owned: map[topicPart]uint64{}, acked: map[topicPart]kgo.EpochOffset{}, committed: map[topicPart]int64{}}
	start := kgo.NewOffset().AtStart()
	if cfg.StartPosition == "latest" {
		start = kgo.NewOffset().AtEnd()
	}
	s.opts = []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topics...),
		kgo.ConsumeResetOffset(start),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
		kgo.ClientID("defender-intake"),
		kgo.WithLogger(kafkaLogger{s.log}),
		kgo.SessionTimeout(cfg.SessionTimeout),
		// What the client buffers ahead of the pipeline counts against
		// memory too: keep it to a few batches.
		kgo.FetchMaxBytes(int32(cfg.FetchMaxMB) << 20),
		kgo.FetchMaxPartitionBytes(1 << 20),
		kgo.MaxConcurrentFetches(1),
	}
	if cfg.TLS.Enabled {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.TLS.InsecureSkipVerify}
		if cfg.TLS.CAFile != "" {
			pem, err := os.ReadFile(cfg.TLS.CAFile)
			if err != nil {
				return nil, fmt.Errorf("kafka source %s: tls.ca_file: %w", name, err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("kafka source %s: tls.ca_file %s holds no PEM certificate", name, cfg.TLS.CAFile)
			}
		}
		s.opts = append(s.opts, kgo.DialTLSConfig(tc))
	}
	switch strings.ToUpper(cfg.SASL.Mechanism) {
	case "PLAIN":
		s.opts = append(s.opts, kgo.SASL(plain.Auth{User: cfg.SASL.Username, Pass: cfg.SASL.Password.Value()}.AsMechanism()))
	case "SCRAM-SHA-256":
		s.opts = append(s.opts, kgo.SASL(scram.Auth{User: cfg.SASL.Username, Pass: cfg.SASL.Password.Value()}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		s.opts = append(s.opts, kgo.SASL(scram.Auth{User: cfg.SASL.Username, Pass: cfg.SASL.Password.Value()}.AsSha512Mechanism()))
	}
	return s, nil
}

// Name implements pipeline.Source.
func (s *Source) Name() string { return s.name }

func (s *Source) partitionLabel(topic string, p int32) string {
	if len(s.cfg.Topics) == 1 {
		return strconv.Itoa(int(p))
	}
	return topic + "/" + strconv.Itoa(int(p))
}

// Run implements pipeline.Source.
func (s *Source) Run(ctx context.Context, out pipeline.Emitter) error {
	cl, err := kgo.NewClient(s.opts...)
	if err != nil {
		return fmt.Errorf("kafka source %s: %w", s.name, err)
	}
	defer cl.Close() // leaves the group, so partitions move at once
	s.log.Info("kafka source started", "brokers", s.cfg.Brokers, "topics", s.cfg.Topics, "group", s.cfg.Group)
	// The client retries forever and quietly: say at once when the
	// brokers cannot be reached or refuse the credentials.
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	if err := cl.Ping(pctx); err != nil && ctx.Err() == nil {
		s.log.Warn("kafka brokers not reachable yet (address, TLS or SASL credentials?); retrying", "err", err)
	}
	pcancel()

	var inflight sync.WaitGroup
	// Delivered offsets are committed soon after they are acknowledged,
	// at most once per commit_interval; the last commit, on stop, has
	// its own deadline because ctx has ended by then.
	s.saver = checkpoint.NewSaver(s.cfg.CommitInterval, func() error {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return s.commit(cctx, cl, nil)
	})

	var runErr error
poll:
	for {
		fetches := cl.PollRecords(ctx, s.cfg.MaxBatchMessages)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			break
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			s.log.Warn("fetch error", "topic", topic, "partition", p, "err", err)
		})
		var emitErr error
		fetches.EachTopic(func(ft kgo.FetchTopic) {
			ft.EachPartition(func(fp kgo.FetchPartition) {
				if emitErr == nil && len(fp.Records) > 0 {
					emitErr = s.emitPartition(ctx, out, ft.Topic, fp, &inflight)
				}
			})
		})
		if emitErr != nil {
			if ctx.Err() == nil {
				runErr = emitErr
			}
			break poll
		}
	}
	inflight.Wait()
	s.saver.Close() // a failure was logged and counted
	return runErr
}

// emitPartition emits the records of one partition in batches; each
// batch's Ack moves the partition's commit point past its last record.
func (s *Source) emitPartition(ctx context.Context, out pipeline.Emitter, topic string, fp kgo.FetchPartition, inflight *sync.WaitGroup) error {
	tp := topicPart{topic, fp.Partition}
	label := s.partitionLabel(topic, fp.Partition)
	s.mu.Lock()
	gen := s.owned[tp]
	s.mu.Unlock()
	recs := fp.Records
	last := recs[len(recs)-1]
	if fp.HighWatermark > 0 {
		s.m.LagMessages.WithLabelValues(s.name, label).Set(float64(fp.HighWatermark - last.Offset - 1))
	}
	for len(recs) > 0 {
		n := pipeline.BatchLen(len(recs), s.cfg.MaxBatchMessages, func(i int) int { return len(recs[i].Value) })
		chunk := recs[:n]
		recs = recs[n:]
		msgs := make([]pipeline.Message, len(chunk))
		for i, r := range chunk {
			msgs[i] = pipeline.Message{
				Origin: pipeline.Origin{Source: s.name, Type: "kafka", Stream: topic, Partition: label,
					Offset: r.Offset, SequenceNumber: -1, EnqueuedTime: r.Timestamp},
				Body: r.Value,
			}
		}
		end := chunk[len(chunk)-1]
		next := kgo.EpochOffset{Epoch: end.LeaderEpoch, Offset: end.Offset + 1}
		inflight.Add(1)
		err := out.Emit(ctx, &pipeline.Batch{Messages: msgs, Ack: func(err error) {
			defer inflight.Done()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.owned[tp] == gen && gen != 0 {
				s.acked[tp] = next
			}
			s.mu.Unlock()
			s.saver.Changed()
		}})
		if err != nil {
			inflight.Done()
			return err
		}
	}
	return nil
}

// commit commits the delivered offsets of the given partitions (all owned
// ones when only is nil) that moved since the last commit.
func (s *Source) commit(ctx context.Context, cl *kgo.Client, only map[string][]int32) error {
	want := map[string]map[int32]kgo.EpochOffset{}
	s.mu.Lock()
	for tp, eo := range s.acked {
		if only != nil && !contains(only[tp.topic], tp.part) {
			continue
		}
		if s.committed[tp] == eo.Offset {
			continue
		}
		if want[tp.topic] == nil {
			want[tp.topic] = map[int32]kgo.EpochOffset{}
		}
		want[tp.topic][tp.part] = eo
	}
	s.mu.Unlock()
	if len(want) == 0 {
		return nil
	}
	var failed error
	cl.CommitOffsetsSync(ctx, want, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			failed = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if perr := kerr.ErrorForCode(p.ErrorCode); perr != nil {
					failed = fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, perr)
					continue
				}
				s.mu.Lock()
				s.committed[topicPart{t.Topic, p.Partition}] = want[t.Topic][p.Partition].Offset
				s.mu.Unlock()
			}
		}
	})
	if failed != nil {
		// Rebalances make this normal: the partition's new owner
		// reads from the last commit; duplicates, not loss.
		s.m.CheckpointErrs.WithLabelValues(s.name).Inc()
		s.log.Info("offset commit not accepted; the next owner re-reads from the previous commit", "err", failed)
		return failed
	}
	s.m.Checkpoints.WithLabelValues(s.name).Inc()
	return nil
}

func contains(ps []int32, p int32) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

func (s *Source) assigned(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, ps := range parts {
		for _, p := range ps {
			s.gen++
			s.owned[topicPart{t, p}] = s.gen
		}
	}
	s.log.Info("partitions assigned", "partitions", parts)
}

// revoked commits what was delivered on the partitions being taken away,
// then forgets them. Batches still in flight for them will be read again by
// the new owner: duplicates, never loss.
func (s *Source) revoked(ctx context.Context, cl *kgo.Client, parts map[string][]int32) {
	s.commit(ctx, cl, parts)
	s.forget(parts)
	s.log.Info("partitions revoked", "partitions", parts)
}

// lost is a revocation without the chance to commit (session expired).
func (s *Source) lost(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
	s.forget(parts)
	s.log.Info("partitions lost", "partitions", parts)
}

func (s *Source) forget(parts map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, ps := range parts {
		for _, p := range ps {
			tp := topicPart{t, p}
			delete(s.owned, tp)
			delete(s.acked, tp)
			delete(s.committed, tp)
		}
	}
}

// kafkaLogger passes franz-go's warnings and errors (connection and
// authentication failures) to slog; its debug chatter stays out.
type kafkaLogger struct{ log *slog.Logger }

func (l kafkaLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (l kafkaLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelWarn
	if level == kgo.LogLevelError {
		lv = slog.LevelError
	}
	l.log.Log(context.Background(), lv, "kafka client: "+msg, keyvals...)
}
