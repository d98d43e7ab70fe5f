package forward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/defender-intake/defender-intake/internal/sink"
)

// StatusError is a response other than 2xx.
type StatusError struct {
	Code int
	// Body is the start of the response body, for logs and dead letters.
	Body string
	// RetryAfter is the wait the target asked for (0 when none).
	RetryAfter time.Duration
	// Whole says the answer refuses the request as a whole whatever its
	// code: a target-specific reason found in the body (Retrier.Whole),
	// such as Splunk's 400 "Incorrect index" for the configured index.
	Whole bool
	// raw is the body as read, for Retrier.Whole.
	raw []byte
}

// refusesRequest reports whether e refuses the request as a whole.
func (e *StatusError) refusesRequest() bool { return e.Whole || refusalCode(e.Code) }

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Code, e.Body)
}

// Is makes a refusal of the request as a whole (RefusesRequest) match
// sink.ErrTargetUnavailable, so that the pipeline knows the documents
// are not at fault.
func (e *StatusError) Is(target error) bool {
	return target == sink.ErrTargetUnavailable && e.refusesRequest()
}

// Permanent reports whether err says the documents of the request are
// refused for good, so sending them again cannot succeed: 400, 409, 413
// or 422. The other 4xx are about the request as a whole
// (RefusesRequest: credentials, permissions, URL) or ask for a retry
// (408, 429), and say nothing about the documents. The documents are dead-lettered with the
// target's answer.
func Permanent(err error) bool {
	var se *StatusError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code {
	case 400, 409, 413, 422:
		return !se.Whole
	}
	return false
}

// Retrier sends a request again after a retryable failure, with
// exponential backoff and jitter, waiting at least what Retry-After asks.
type Retrier struct {
	MaxAttempts int
	// Initial and Max bound the backoff (defaults 200ms and 10s).
	Initial, Max time.Duration
	// Log is the sink's logger (carrying its name).
	Log *slog.Logger
	// Target, when set, is told what every request came to (Observe).
	Target *Target
	// Whole, when set, reads the body of a refusal for a reason that is
	// about the request as a whole (the configuration) rather than its
	// documents, whatever the status, and reports whether it found one.
	// It is given the body before Secrets are redacted and truncated.
	Whole func(code int, body []byte) bool
	// StatusOnly says a 2xx status is the whole acknowledgement (the
	// sink does not read the answer's body): a body cut short after it
	// (a target closing mid-response) is not a failure, which would send
	// documents the target has again, for as long as it does so.
	StatusOnly bool
	// Secrets are the credentials the requests carry (a key, a token, a
	// password): a target's answer that repeats them (some echo the
	// request they refuse) has them replaced before it reaches a log, an
	// error or a dead letter.
	Secrets Secrets
}

// maxRetryAfter caps a Retry-After header, so a bogus value cannot park
// a worker for hours; the pipeline retries after that anyway.
const maxRetryAfter = 2 * time.Minute

// maxBody bounds a response body read into memory (an Elasticsearch bulk
// response for a large batch is a few MB).
const maxBody = 64 << 20

// Do sends the request newReq builds (a new one per attempt, bodies are
// consumed) until a 2xx response, whose body it returns, a permanent
// failure, MaxAttempts, or the end of ctx. A refusal of the request as a
// whole (RefusesRequest) is returned at once: it lasts until someone
// fixes the configuration or the target, so the pipeline's capped
// backoff (not this one) paces the next attempts.
func (r Retrier) Do(ctx context.Context, client *http.Client, newReq func(ctx context.Context) (*http.Request, error)) ([]byte, error) {
	backoff := r.Initial
	if backoff <= 0 {
		backoff = 200 * time.Millisecond
	}
	ceiling := r.Max
	if ceiling <= 0 {
		ceiling = 10 * time.Second
	}
	attempts := max(r.MaxAttempts, 1)
	var err error
	for attempt := 1; ; attempt++ {
		var body []byte
		body, err = send(ctx, client, newReq, r.Secrets, r.StatusOnly)
		var se *StatusError
		if errors.As(err, &se) && r.Whole != nil {
			se.Whole = r.Whole(se.Code, se.raw)
		}
		r.Target.Observe(err)
		if err == nil {
			return body, nil
		}
		if Permanent(err) || RefusesRequest(err) || attempt >= attempts || ctx.Err() != nil {
			return nil, err
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		if se != nil && se.RetryAfter > wait {
			wait = se.RetryAfter
		}
		if r.Log != nil {
			r.Log.Warn("forwarding failed; retrying", "attempt", attempt, "wait", wait, "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
		backoff = min(backoff*2, ceiling)
	}
}

// maxErrorBody bounds what is read of a refusal's body: only its start
// is kept, and a hostile target can send gigabytes.
const maxErrorBody = 64 << 10

func send(ctx context.Context, client *http.Client, newReq func(ctx context.Context) (*http.Request, error), secrets Secrets, statusOnly bool) ([]byte, error) {
	req, err := newReq(ctx)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// Its text repeats the whole URL, query included (a
			// ClickHouse statement of a kilobyte, URL-encoded).
			err = ue.Err
		}
		if certificateRefused(err) {
			return nil, &CertificateError{Err: fmt.Errorf("%s %s: %w", req.Method, endpoint(req.URL), err)}
		}
		return nil, fmt.Errorf("%s %s: %w", req.Method, endpoint(req.URL), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		limit := int64(maxBody)
		if statusOnly {
			// Not read by the sink: a target answering a huge body costs
			// no more than a refusal.
			limit = maxErrorBody
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
		if err != nil && !statusOnly {
			return nil, fmt.Errorf("read response of %s: %w", endpoint(req.URL), err)
		}
		return body, nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if resp.StatusCode/100 == 3 {
		// Not followed (NewHTTPClient): say where the target points.
		body = fmt.Appendf(nil, "redirected to %q; fix the sink's URL", redactedLocation(resp))
	}
	// Redacted before it is cut, so that no part of a secret is left.
	answer := secrets.Redact(string(body))
	if len(answer) > 2048 {
		answer = answer[:2048]
	}
	return nil, &StatusError{Code: resp.StatusCode, Body: answer, raw: body, RetryAfter: RetryAfter(resp.Header.Get("Retry-After"), time.Now())}
}

// RetryAfter parses a Retry-After header (seconds or an HTTP date),
// capped; 0 when absent or unusable.
func RetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.Atoi(v); err == nil {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// Narrow sends the documents idx with send. When the target refuses them
// for good (Permanent), it sends each half again, so that only documents
// refused on their own reach reject (the dead-letter file) and one bad
// record does not take its whole batch with it. A refusal of the request
// as a whole (a wrong key or URL: RefusesRequest) is not Permanent: it is
// returned, like every error that must be retried later.
func Narrow(idx []int, send func(idx []int) error, reject func(i int, err error) error) error {
	err := send(idx)
	if err == nil || !Permanent(err) {
		return err
	}
	if len(idx) == 1 {
		return reject(idx[0], err)
	}
	half := len(idx) / 2
	return errors.Join(Narrow(idx[:half], send, reject), Narrow(idx[half:], send, reject))
}

// endpoint is u for logs and errors: without its query (a ClickHouse
// statement) and password.
func endpoint(u *url.URL) string {
	c := *u
	c.RawQuery, c.Fragment = "", ""
	return c.Redacted()
}

// redactedLocation is the Location of a redirect without a password.
func redactedLocation(resp *http.Response) string {
	u, err := resp.Location()
	if err != nil {
		return resp.Header.Get("Location")
	}
	return u.Redacted()
}
