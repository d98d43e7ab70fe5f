// Package kafka is the sink that produces ECS documents to Kafka (or any
// Kafka-compatible broker) with franz-go: idempotent, acks from all
// in-sync replicas, keyed by host or dataset.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/valyala/fastjson"

	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward"
)

func init() {
	forward.Register("kafka", DefaultConfig, func(name string, c Config) (sink.Sink, error) {
		return Open(name, c)
	})
}

// Sink produces records.
type Sink struct {
	name    string
	cfg     Config
	client  *kgo.Client
	rejects *forward.Rejects
	target  *forward.Target
	log     *slog.Logger
	recs    []*kgo.Record
	parser  fastjson.Parser
}

// Open builds the producer; it connects lazily, on the first Write.
func Open(name string, cfg Config) (*Sink, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("defender-intake"),
		// Idempotent production is franz-go's default; acks=all is what
		// makes "produced" mean "on every in-sync replica".
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// Bounded retries and delivery time: a Write hands failed records
		// back to the pipeline instead of blocking it forever.
		kgo.RecordDeliveryTimeout(cfg.Timeout),
		kgo.RecordRetries(cfg.MaxAttempts),
		kgo.ProducerBatchMaxBytes(1 << 20),
		kgo.ProducerLinger(0),
	}
	switch cfg.Compression {
	case "gzip":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.GzipCompression()))
	case "snappy":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	case "lz4":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case "zstd":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	default:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	}
	if cfg.Key == "none" {
		opts = append(opts, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	}
	if cfg.TLS.Enabled {
		tc, err := cfg.TLS.Config()
		if err != nil {
			return nil, fmt.Errorf("kafka sink %s: %w", name, err)
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	switch strings.ToUpper(cfg.SASL.Mechanism) {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: cfg.SASL.Username, Pass: cfg.SASL.Password.Value()}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: cfg.SASL.Username, Pass: cfg.SASL.Password.Value()}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: cfg.SASL.Username, Pass: cfg.SASL.Password.Value()}.AsSha512Mechanism()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka sink %s: %w", name, err)
	}
	rej, err := forward.OpenRejects(name, cfg.DeadLetterPath(name))
	if err != nil {
		cl.Close()
		return nil, err
	}
	log := slog.Default().With("sink", name)
	return &Sink{name: name, cfg: cfg, client: cl, rejects: rej, target: forward.NewTarget(name, log), log: log}, nil
}

// Unavailable implements sink.Availability: the brokers refuse the
// sink's credentials or its access to a topic.
func (s *Sink) Unavailable() error { return s.target.Unavailable() }

// Name implements sink.Sink.
func (s *Sink) Name() string { return s.name }

// Close implements sink.Sink.
func (s *Sink) Close() error {
	s.client.Close()
	s.target.Close()
	return s.rejects.Close()
}

// Topic is the topic a document of dataset goes to.
func (s *Sink) Topic(dataset string) string {
	if s.cfg.Topic != "" {
		return s.cfg.Topic
	}
	if dataset == "" {
		dataset = "unknown"
	}
	return s.cfg.TopicPrefix + dataset
}

// Write implements sink.Sink: nil once every record was acknowledged by
// all in-sync replicas. Records the broker refuses for good (too large,
// invalid) are dead-lettered; the others that failed are reported in a
// *sink.PartialError. Failed authentication or authorization (SASL,
// topic or cluster ACLs) and a topic that does not exist make the target
// unavailable (refuses): the error matches sink.ErrTargetUnavailable, the
// gauge is set and /readyz fails, as for the HTTP sinks' 401.
func (s *Sink) Write(ctx context.Context, docs []sink.Doc) error {
	s.recs = s.recs[:0]
	for _, d := range docs {
		r := &kgo.Record{Topic: s.Topic(d.Dataset), Value: d.JSON}
		switch s.cfg.Key {
		case "host":
			if v, err := s.parser.ParseBytes(d.JSON); err == nil {
				if h := v.GetStringBytes("host", "name"); len(h) > 0 {
					r.Key = append([]byte(nil), h...)
				}
			}
		case "dataset":
			r.Key = []byte(d.Dataset)
		}
		s.recs = append(s.recs, r)
	}
	// The deadline fails records that are still being retried (franz-go
	// keeps retrying a retryable broker error otherwise).
	pctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	results := s.client.ProduceSync(pctx, s.recs...)
	cancel()
	var failed, dead []int
	var reasons []string
	var firstErr, refusal error
	answered := false
	var index map[*kgo.Record]int // results come in completion order
	for _, res := range results {
		if res.Err == nil {
			answered = true
			continue
		}
		if index == nil {
			index = make(map[*kgo.Record]int, len(s.recs))
			for i, r := range s.recs {
				index[r] = i
			}
		}
		i, ok := index[res.Record]
		if !ok {
			// Not one of ours: cannot say which document failed.
			return fmt.Errorf("produce: result for an unknown record: %w", res.Err)
		}
		if refusal == nil && refuses(res.Err) {
			refusal = res.Err
		}
		if permanent(res.Err) {
			answered = true
			dead = append(dead, i)
			reasons = append(reasons, res.Err.Error())
			continue
		}
		if firstErr == nil {
			firstErr = res.Err
		}
		failed = append(failed, i)
	}
	if len(dead) > 0 {
		s.log.Warn("records refused by Kafka; dead-lettered", "count", len(dead), "first", reasons[0])
		if err := s.rejects.Write(ctx, docs, dead, reasons); err != nil {
			failed = append(failed, dead...)
			firstErr = err
		}
	}
	switch {
	case refusal != nil:
		s.target.Refused(refusalCode(refusal), refusal.Error())
	case answered:
		s.target.Answered()
	}
	if len(failed) == 0 {
		return nil
	}
	slices.Sort(failed)
	if refusal != nil {
		return &sink.PartialError{Failed: failed, Err: fmt.Errorf("produce: %w: %w", sink.ErrTargetUnavailable, refusal)}
	}
	return &sink.PartialError{Failed: failed, Err: fmt.Errorf("produce: %w", firstErr)}
}

// refusals are the broker errors that refuse the sink as a whole: its
// credentials, its permissions, or a topic that is not there (after the
// client's own retries within timeout).
var refusals = []*kerr.Error{kerr.SaslAuthenticationFailed, kerr.UnsupportedSaslMechanism, kerr.IllegalSaslState,
	kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed, kerr.TransactionalIDAuthorizationFailed,
	kerr.UnknownTopicOrPartition}

// refuses reports whether err is one of refusals.
func refuses(err error) bool {
	for _, r := range refusals {
		if errors.Is(err, r) {
			return true
		}
	}
	return false
}

// refusalCode is the label of a refusal: the Kafka error name.
func refusalCode(err error) string {
	for _, r := range refusals {
		if errors.Is(err, r) {
			return r.Message
		}
	}
	return "unknown"
}

// permanent reports whether producing the record again cannot succeed.
func permanent(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.InvalidRecord) || errors.Is(err, kerr.CorruptMessage)
}
