// Package sekoia is the sink that forwards raw Defender records to a
// Sekoia.io intake over its HTTP batch endpoint. Sekoia parses the raw
// records itself, so the sink sends each document's message field (the
// record as received), not the ECS document.
package sekoia

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/valyala/fastjson"
	"golang.org/x/time/rate"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward"
)

// Config is the `type: sekoia` sink section.
type Config struct {
	// IntakeServer is the intake's base URL; records go to /batch.
	IntakeServer string `yaml:"intake_server"`
	// IntakeKey identifies the intake ("${SEKOIA_INTAKE_KEY}").
	IntakeKey config.Secret `yaml:"intake_key"`
	// MaxBatchRecords and MaxBatchBytes bound one request.
	MaxBatchRecords int `yaml:"max_batch_records"`
	MaxBatchBytes   int `yaml:"max_batch_bytes"`
	// MaxRecordsPerSecond limits the rate sent (0: unlimited).
	MaxRecordsPerSecond float64     `yaml:"max_records_per_second"`
	TLS                 forward.TLS `yaml:"tls"`

	forward.Delivery `yaml:",inline"`
}

// DefaultConfig holds the defaults of the section.
func DefaultConfig() *Config {
	return &Config{IntakeServer: "https://intake.sekoia.io", MaxBatchRecords: 1000, MaxBatchBytes: 1 << 20, Delivery: forward.DefaultDelivery()}
}

// Validate implements sink.Section.
func (c *Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.IntakeServer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("intake_server: %q is not an http(s) URL", c.IntakeServer))
	}
	if !c.IntakeKey.IsSet() {
		errs = append(errs, errors.New("intake_key: required (e.g. \"${SEKOIA_INTAKE_KEY}\")"))
	}
	if c.MaxBatchRecords < 1 {
		errs = append(errs, errors.New("max_batch_records: must be >= 1"))
	}
	if c.MaxBatchBytes < 1024 {
		errs = append(errs, errors.New("max_batch_bytes: must be >= 1024"))
	}
	if c.MaxRecordsPerSecond < 0 {
		errs = append(errs, errors.New("max_records_per_second: must be >= 0"))
	}
	errs = append(errs, c.TLS.Validate(), c.Delivery.Validate())
	return errors.Join(errs...)
}

func init() {
	forward.Register("sekoia", DefaultConfig, func(name string, c Config) (sink.Sink, error) {
		return Open(name, c)
	})
}

// Sink posts batches of raw records.
type Sink struct {
	name    string
	cfg     Config
	url     string
	client  *http.Client
	retry   forward.Retrier
	limit   *rate.Limiter
	rejects *forward.Rejects
	refused forward.Refused
	target  *forward.Target
	log     *slog.Logger
	keyJSON []byte
	body    bytes.Buffer
	raws    forward.Encoded
	parser  fastjson.Parser
}

// Open builds the sink from a validated section.
func Open(name string, cfg Config) (*Sink, error) {
	client, err := forward.NewHTTPClient(cfg.TLS, cfg.Timeout)
	if err != nil {
		return nil, fmt.Errorf("sekoia sink %s: %w", name, err)
	}
	rej, err := forward.OpenRejects(name, cfg.DeadLetterPath(name))
	if err != nil {
		return nil, err
	}
	key, _ := json.Marshal(cfg.IntakeKey.Value())
	log := slog.Default().With("sink", name)
	target := forward.NewTarget(name, log)
	s := &Sink{name: name, cfg: cfg, url: strings.TrimRight(cfg.IntakeServer, "/") + "/batch", client: client,
		retry: forward.Retrier{MaxAttempts: cfg.MaxAttempts, Log: log, Target: target, Secrets: forward.NewSecrets("", "", cfg.IntakeKey.Value()).WithURL(cfg.IntakeServer),
			StatusOnly: true}, rejects: rej, target: target, log: log, keyJSON: key}
	if cfg.MaxRecordsPerSecond > 0 {
		s.limit = rate.NewLimiter(rate.Limit(cfg.MaxRecordsPerSecond), max(cfg.MaxBatchRecords, int(cfg.MaxRecordsPerSecond)))
	}
	return s, nil
}

// Name implements sink.Sink.
func (s *Sink) Name() string { return s.name }

// Unavailable implements sink.Availability.
func (s *Sink) Unavailable() error { return s.target.Unavailable() }

// Close implements sink.Sink.
func (s *Sink) Close() error {
	s.client.CloseIdleConnections()
	s.target.Close()
	return s.rejects.Close()
}

// Write implements sink.Sink: nil once Sekoia answered 2xx for every
// chunk, or refused a record for good and the record was dead-lettered
// (all of a Write's in one go). A chunk that still fails after the
// retries, or that the intake refuses as a whole (401, 403, 404, 407:
// the key or URL is wrong, not the records), makes it and every later
// chunk a *sink.PartialError (the pipeline retries them).
func (s *Sink) Write(ctx context.Context, docs []sink.Doc) error {
	s.raws.Encode(docs, func(dst []byte, d sink.Doc) []byte { return s.appendRaw(dst, d.JSON) })
	chunks := forward.Chunks{MaxItems: s.cfg.MaxBatchRecords, MaxBytes: s.cfg.MaxBatchBytes,
		Overhead: len(`{"intake_key":,"jsons":[]}`) + len(s.keyJSON), PerItem: 1}
	err := chunks.Send(s.raws.Items, func(idx []int) error { return s.post(ctx, idx) }, s.refused.Add)
	return s.rejects.Settle(ctx, docs, &s.refused, err)
}

// post sends one request with the records of idx, with retries.
func (s *Sink) post(ctx context.Context, idx []int) error {
	if s.limit != nil {
		if err := s.limit.WaitN(ctx, min(len(idx), s.limit.Burst())); err != nil {
			return fmt.Errorf("rate limit: %w", err)
		}
	}
	s.body.Reset()
	s.body.WriteString(`{"intake_key":`)
	s.body.Write(s.keyJSON)
	s.body.WriteString(`,"jsons":[`)
	for k, i := range idx {
		if k > 0 {
			s.body.WriteByte(',')
		}
		s.body.Write(s.raws.Items[i])
	}
	s.body.WriteString("]}")
	payload := s.body.Bytes()
	_, err := s.retry.Do(ctx, s.client, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "defender-intake")
		return req, nil
	})
	return err
}

// appendRaw appends the raw record of a document (its message field) as
// a JSON string, or the document itself as a string when it has none.
func (s *Sink) appendRaw(dst, doc []byte) []byte {
	if v, err := s.parser.ParseBytes(doc); err == nil {
		if m := v.Get("message"); m != nil && m.Type() == fastjson.TypeString {
			return forward.AppendQuoted(dst, m.GetStringBytes())
		}
	}
	return forward.AppendQuoted(dst, doc)
}
