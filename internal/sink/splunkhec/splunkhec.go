// Package splunkhec is the sink that forwards ECS documents to a Splunk
// HTTP Event Collector (the /services/collector/event endpoint), several
// events per request, with optional indexer acknowledgement.
package splunkhec

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward"
)

// Config is the `type: splunk_hec` sink section.
type Config struct {
	// URL is the HEC base URL, e.g. https://splunk.example:8088.
	URL string `yaml:"url"`
	// Token is the HEC token ("${SPLUNK_HEC_TOKEN}").
	Token config.Secret `yaml:"token"`
	// Index, SourceType and Source are set on every event; an empty
	// Index uses the token's default index.
	Index      string `yaml:"index"`
	SourceType string `yaml:"sourcetype"`
	Source     string `yaml:"source"`
	// Host is set on every event; empty uses the document's host.name.
	Host string `yaml:"host"`
	// MaxBatchEvents and MaxBatchBytes bound one request.
	MaxBatchEvents int `yaml:"max_batch_events"`
	MaxBatchBytes  int `yaml:"max_batch_bytes"`
	// Ack waits for indexer acknowledgement (the token must have it
	// enabled) before a batch counts as delivered; without it a 200 from
	// HEC is the acknowledgement.
	Ack        bool          `yaml:"ack"`
	AckTimeout time.Duration `yaml:"ack_timeout"`
	TLS        forward.TLS   `yaml:"tls"`

	forward.Delivery `yaml:",inline"`
}

// DefaultConfig holds the defaults of the section.
func DefaultConfig() *Config {
	return &Config{SourceType: "defender:ecs", Source: "defender-intake", MaxBatchEvents: 1000, MaxBatchBytes: 1 << 20,
		AckTimeout: time.Minute, Delivery: forward.DefaultDelivery()}
}

// Validate implements sink.Section.
func (c *Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("url: %q is not an http(s) URL", c.URL))
	}
	if !c.Token.IsSet() {
		errs = append(errs, errors.New("token: required (e.g. \"${SPLUNK_HEC_TOKEN}\")"))
	}
	if c.MaxBatchEvents < 1 {
		errs = append(errs, errors.New("max_batch_events: must be >= 1"))
	}
	if c.MaxBatchBytes < 1024 {
		errs = append(errs, errors.New("max_batch_bytes: must be >= 1024"))
	}
	if c.Ack && c.AckTimeout <= 0 {
		errs = append(errs, errors.New("ack_timeout: must be > 0"))
	}
	errs = append(errs, c.TLS.Validate(), c.Delivery.Validate())
	return errors.Join(errs...)
}

func init() {
	forward.Register("splunk_hec", DefaultConfig, func(name string, c Config) (sink.Sink, error) {
		return Open(name, c)
	})
}

// Sink posts events to HEC.
type Sink struct {
	name    string
	cfg     Config
	base    string
	channel string
	client  *http.Client
	retry   forward.Retrier
	rejects *forward.Rejects
	refused forward.Refused
	target  *forward.Target
	log     *slog.Logger
	// fixed is the JSON of the keys every event shares.
	fixed  []byte
	events forward.Encoded
	body   bytes.Buffer
	parser fastjson.Parser
	// warnedNoAck: the missing-ackId warning was logged once.
	warnedNoAck bool
}

// Open builds the sink from a validated section.
func Open(name string, cfg Config) (*Sink, error) {
	client, err := forward.NewHTTPClient(cfg.TLS, cfg.Timeout)
	if err != nil {
		return nil, fmt.Errorf("splunk_hec sink %s: %w", name, err)
	}
	rej, err := forward.OpenRejects(name, cfg.DeadLetterPath(name))
	if err != nil {
		return nil, err
	}
	var ch [16]byte
	rand.Read(ch[:])
	h := hex.EncodeToString(ch[:])
	log := slog.Default().With("sink", name)
	target := forward.NewTarget(name, log)
	s := &Sink{name: name, cfg: cfg, base: strings.TrimRight(cfg.URL, "/"), client: client, rejects: rej, target: target, log: log,
		channel: h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:],
		retry: forward.Retrier{MaxAttempts: cfg.MaxAttempts, Log: log, Target: target, Secrets: forward.NewSecrets("", "", cfg.Token.Value()).WithURL(cfg.URL),
			// Without ack a 2xx is the acknowledgement; with it, the
			// answer's ackId is needed.
			Whole: refusesRequest, StatusOnly: !cfg.Ack}}
	for _, kv := range [][2]string{{"index", cfg.Index}, {"sourcetype", cfg.SourceType}, {"source", cfg.Source}, {"host", cfg.Host}} {
		if kv[1] != "" {
			v, _ := json.Marshal(kv[1])
			s.fixed = append(s.fixed, `,"`+kv[0]+`":`...)
			s.fixed = append(s.fixed, v...)
		}
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

// Write implements sink.Sink: nil once HEC accepted every batch (and,
// with ack, the indexers acknowledged it), or refused an event for good
// and it was dead-lettered (all of a Write's in one go). A refusal of a
// request as a whole (401, 403, 404, 407: the token or URL is wrong, not
// the events) leaves its events to the pipeline's retries.
func (s *Sink) Write(ctx context.Context, docs []sink.Doc) error {
	s.events.Encode(docs, s.event)
	chunks := forward.Chunks{MaxItems: s.cfg.MaxBatchEvents, MaxBytes: s.cfg.MaxBatchBytes}
	err := chunks.Send(s.events.Items, func(idx []int) error { return s.post(ctx, idx) }, s.refused.Add)
	return s.rejects.Settle(ctx, docs, &s.refused, err)
}

// event appends the HEC event of d: time in epoch seconds (millisecond
// precision) from @timestamp, the fixed keys, and the document as event.
func (s *Sink) event(dst []byte, d sink.Doc) []byte {
	dst = append(dst, `{"time":`...)
	if d.Timestamp.IsZero() {
		dst = strconv.AppendInt(dst, time.Now().Unix(), 10)
	} else {
		dst = strconv.AppendFloat(dst, float64(d.Timestamp.UnixMilli())/1000, 'f', 3, 64)
	}
	dst = append(dst, s.fixed...)
	if s.cfg.Host == "" {
		if v, err := s.parser.ParseBytes(d.JSON); err == nil {
			if h := v.GetStringBytes("host", "name"); len(h) > 0 {
				dst = append(dst, `,"host":`...)
				dst = forward.AppendQuoted(dst, h)
			}
		}
	}
	dst = append(dst, `,"event":`...)
	dst = append(dst, d.JSON...)
	return append(dst, '}')
}

// requestCodes are the HEC status codes (the "code" of its answer) that
// are about the token, the index, the channel or acknowledgement, that is
// the configuration, not the events: HEC gives some of them with HTTP 400
// (7 "Incorrect index" for an index the token may not write to, 10 and
// 11 for the channel, 14 "ACK is disabled", 16, and 5 "No data" for a
// body a proxy dropped), which would otherwise dead-letter every event.
var requestCodes = map[int]bool{1: true, 2: true, 3: true, 4: true, 5: true, 7: true, 10: true, 11: true, 14: true, 16: true}

// refusesRequest implements forward.Retrier.Whole for HEC's answers.
func refusesRequest(_ int, body []byte) bool {
	var r struct {
		Code *int `json:"code"`
	}
	return json.Unmarshal(body, &r) == nil && r.Code != nil && requestCodes[*r.Code]
}

// hecReply is HEC's answer body.
type hecReply struct {
	Text  string `json:"text"`
	Code  int    `json:"code"`
	AckID *int64 `json:"ackId"`
}

// post sends the events of idx in one request and, with ack, waits for
// the indexers' acknowledgement.
func (s *Sink) post(ctx context.Context, idx []int) error {
	s.body.Reset()
	for _, i := range idx {
		s.body.Write(s.events.Items[i])
	}
	payload := s.body.Bytes()
	resp, err := s.retry.Do(ctx, s.client, s.request(s.base+"/services/collector/event", payload))
	if err != nil {
		return err
	}
	if !s.cfg.Ack {
		return nil
	}
	var r hecReply
	if err := json.Unmarshal(resp, &r); err != nil || r.AckID == nil {
		// HEC took the events (200) but the token has no indexer
		// acknowledgement: sending them again would only duplicate them.
		if !s.warnedNoAck {
			s.log.Warn("ack: true but the HEC token has indexer acknowledgement off; a 200 counts as delivered", "reply", fmt.Sprintf("%.200s", resp))
			s.warnedNoAck = true
		}
		return nil
	}
	return s.waitAck(ctx, *r.AckID)
}

func (s *Sink) request(u string, payload []byte) func(ctx context.Context) (*http.Request, error) {
	return func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Splunk "+s.cfg.Token.Value())
		req.Header.Set("X-Splunk-Request-Channel", s.channel)
		req.Header.Set("Content-Type", "application/json")
		return req, nil
	}
}

// waitAck polls /services/collector/ack until the batch is indexed; a
// batch not acknowledged within AckTimeout is sent again (duplicates are
// allowed, losses are not).
func (s *Sink) waitAck(ctx context.Context, id int64) error {
	deadline := time.Now().Add(s.cfg.AckTimeout)
	body := fmt.Appendf(nil, `{"acks":[%d]}`, id)
	wait := 20 * time.Millisecond
	for {
		resp, err := s.retry.Do(ctx, s.client, s.request(s.base+"/services/collector/ack", body))
		if forward.Permanent(err) {
			// HEC took the events; a refusal of the poll (a channel it
			// forgot, 400 code 11) says nothing wrong about them: they
			// are sent again, not dead-lettered.
			return fmt.Errorf("HEC ack %d: %v; the events are sent again", id, err)
		}
		if err != nil {
			return fmt.Errorf("HEC ack %d: %w", id, err)
		}
		var r struct {
			Acks map[string]bool `json:"acks"`
		}
		if err := json.Unmarshal(resp, &r); err != nil {
			return fmt.Errorf("HEC ack %d: %w", id, err)
		}
		if r.Acks[strconv.FormatInt(id, 10)] {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("HEC ack %d: not indexed within %s", id, s.cfg.AckTimeout)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		wait = min(wait*2, 2*time.Second)
	}
}
