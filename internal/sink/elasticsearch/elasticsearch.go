// Package elasticsearch is the sink that indexes ECS documents into
// Elasticsearch or OpenSearch data streams (logs-defender.<dataset>-
// <namespace>) with the _bulk API, looking at every item's result.
package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward"
)

func init() {
	forward.Register("elasticsearch", DefaultConfig, func(name string, c Config) (sink.Sink, error) {
		return Open(context.Background(), name, c)
	})
}

// Sink writes _bulk requests.
type Sink struct {
	name    string
	cfg     Config
	base    string
	client  *http.Client
	retry   forward.Retrier
	rejects *forward.Rejects
	refused forward.Refused
	target  *forward.Target
	log     *slog.Logger
	body    bytes.Buffer
	actions map[string][]byte
	// ready: the index template is installed (or setup is off).
	ready bool
}

// Open builds the sink and, with setup, installs the index template;
// when the cluster cannot take it yet, the first Writes do.
func Open(ctx context.Context, name string, cfg Config) (*Sink, error) {
	client, err := forward.NewHTTPClient(cfg.TLS, cfg.Timeout)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch sink %s: %w", name, err)
	}
	log := slog.Default().With("sink", name)
	target := forward.NewTarget(name, log)
	s := &Sink{name: name, cfg: cfg, base: strings.TrimRight(cfg.URL, "/"), client: client, log: log, target: target,
		retry: forward.Retrier{MaxAttempts: cfg.MaxAttempts, Log: log, Target: target, Secrets: forward.NewSecrets(cfg.Username, cfg.Password.Value(), cfg.APIKey.Value()).WithURL(cfg.URL)}, actions: map[string][]byte{}}
	rej, err := forward.OpenRejects(name, cfg.DeadLetterPath(name))
	if err != nil {
		return nil, err
	}
	s.rejects = rej
	if err := s.setup(ctx); err != nil {
		// A cluster that is down or refuses the key at start is an outage
		// like any later one: the first Writes install the template, and
		// hand their documents back until they can.
		log.Error("cannot install the index template yet; the documents are held until it is", "err", err)
	}
	return s, nil
}

// setup installs the index template, once, when the section asks for it.
func (s *Sink) setup(ctx context.Context) error {
	if !s.cfg.Setup || s.ready {
		return nil
	}
	if _, err := s.retry.Do(ctx, s.client, s.request(http.MethodPut, "/_index_template/"+templateName, "application/json", indexTemplate())); err != nil {
		return fmt.Errorf("elasticsearch sink %s: install index template: %w", s.name, err)
	}
	s.ready = true
	return nil
}

func (s *Sink) request(method, path, contentType string, body []byte) func(ctx context.Context) (*http.Request, error) {
	return func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, method, s.base+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", contentType)
		switch {
		case s.cfg.APIKey.IsSet():
			req.Header.Set("Authorization", "ApiKey "+s.cfg.APIKey.Value())
		case s.cfg.Username != "":
			req.SetBasicAuth(s.cfg.Username, s.cfg.Password.Value())
		}
		return req, nil
	}
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

// DataStream is the data stream a document of dataset goes to.
func (s *Sink) DataStream(dataset string) string {
	if dataset == "" {
		dataset = "unknown"
	}
	return "logs-defender." + strings.ToLower(dataset) + "-" + s.cfg.Namespace
}

// action returns the bulk action line of dataset (cached).
func (s *Sink) action(dataset string) []byte {
	if a, ok := s.actions[dataset]; ok {
		return a
	}
	ds, _ := json.Marshal(s.DataStream(dataset))
	a := []byte(`{"create":{"_index":` + string(ds) + "}}\n")
	s.actions[dataset] = a
	return a
}

// Write implements sink.Sink: documents whose item succeeded are
// durable; items refused with 429 or a server error are reported in a
// *sink.PartialError for the pipeline to retry, and so are items and
// requests refused with 401, 403, 404 or 407 (credentials, privileges or
// an index that may not be created: the configuration is wrong, not the
// document); items refused for good (a mapping error) are dead-lettered
// with Elasticsearch's reason, all of a Write's in one go.
func (s *Sink) Write(ctx context.Context, docs []sink.Doc) error {
	if err := s.setup(ctx); err != nil {
		return err
	}
	var failed []int
	var firstErr error
	for start := 0; start < len(docs); {
		end, size := start, 0
		for end < len(docs) && end-start < s.cfg.MaxBatchDocs {
			n := len(docs[end].JSON) + 64
			if end > start && size+n > s.cfg.MaxBatchBytes {
				break
			}
			size += n
			end++
		}
		idx := make([]int, 0, end-start)
		for i := start; i < end; i++ {
			idx = append(idx, i)
		}
		f, err := s.bulk(ctx, docs, idx)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		failed = append(failed, f...)
		start = end
	}
	var err error
	if len(failed) > 0 {
		err = &sink.PartialError{Failed: failed, Err: firstErr}
	}
	return s.rejects.Settle(ctx, docs, &s.refused, err)
}

// indexFault are the item error types that are about the index or the
// cluster, not the document, whatever their status (a closed index is a
// 400): every document sent there would be refused, so they are held and
// retried like a 403, not dead-lettered.
var indexFault = map[string]bool{
	"index_closed_exception":       true,
	"invalid_index_name_exception": true,
	"cluster_block_exception":      true,
	"security_exception":           true,
	"index_not_found_exception":    true,
}

// bulkReply is the part of a _bulk response the sink reads.
type bulkReply struct {
	Errors bool `json:"errors"`
	Items  []map[string]struct {
		Status int `json:"status"`
		Error  *struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"error"`
	} `json:"items"`
}

// bulk sends docs[idx...] in one request and returns the indices to
// retry; the documents refused for good go to s.refused. A request
// refused for good as a whole (413) is split in halves.
func (s *Sink) bulk(ctx context.Context, docs []sink.Doc, idx []int) ([]int, error) {
	var retry []int
	var refusal error // the first item refused for its credentials or index
	err := forward.Narrow(idx, func(idx []int) error {
		r, err := s.post(ctx, docs, idx)
		if err != nil {
			s.target.Observe(err)
			return err
		}
		var itemRefusal error
		for k, item := range r.Items {
			if k >= len(idx) {
				break
			}
			for _, res := range item {
				switch {
				case res.Status >= 200 && res.Status < 300:
				case res.Status == 429 || res.Status >= 500 || res.Error == nil:
					retry = append(retry, idx[k])
				case forward.RefusesRequest(&forward.StatusError{Code: res.Status}) || indexFault[res.Error.Type]:
					// A 403 on one index is the API key's privileges, a 404
					// an index the cluster may not create: not the document.
					retry = append(retry, idx[k])
					if itemRefusal == nil {
						itemRefusal = &forward.StatusError{Code: res.Status, Body: res.Error.Type + ": " + res.Error.Reason}
					}
				default:
					s.refused.AddReason(idx[k], fmt.Sprintf("HTTP %d %s: %s", res.Status, res.Error.Type, res.Error.Reason))
				}
			}
		}
		// Observed once per reply, so that a reply with refused items does
		// not mark the target available for a moment.
		s.target.Observe(itemRefusal)
		if refusal == nil {
			refusal = itemRefusal
		}
		if len(r.Items) < len(idx) {
			// A reply shorter than the request: what it does not mention
			// is not known to be stored.
			retry = append(retry, idx[len(r.Items):]...)
		}
		return nil
	}, s.refused.Add)
	if err != nil {
		// Narrow gave up on some of idx: retry them all (Elasticsearch
		// creates again what it already had: at-least-once; Settle keeps
		// out those dead-lettered).
		return idx, err
	}
	if len(retry) > 0 {
		if refusal != nil {
			return retry, fmt.Errorf("%d bulk items not accepted for now: %w", len(retry), refusal)
		}
		return retry, fmt.Errorf("%d bulk items refused for now (429 or server error)", len(retry))
	}
	return nil, nil
}

func (s *Sink) post(ctx context.Context, docs []sink.Doc, idx []int) (*bulkReply, error) {
	s.body.Reset()
	for _, i := range idx {
		s.body.Write(s.action(docs[i].Dataset))
		s.body.Write(docs[i].JSON)
		s.body.WriteByte('\n')
	}
	// bulk tells the target what the reply's items came to.
	r := s.retry
	r.Target = nil
	resp, err := r.Do(ctx, s.client, s.request(http.MethodPost, "/_bulk", "application/x-ndjson", s.body.Bytes()))
	if err != nil {
		return nil, err
	}
	var reply bulkReply
	if err := json.Unmarshal(resp, &reply); err != nil {
		return nil, fmt.Errorf("read _bulk response: %w", err)
	}
	return &reply, nil
}
