package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/deadletter"
	"github.com/defender-intake/defender-intake/internal/envelope"
	"github.com/defender-intake/defender-intake/internal/normalize"
	"github.com/defender-intake/defender-intake/internal/sink"
)

// These tests exercise the delivery mechanics (ordering, retries,
// shutdown), so records are opaque here: lines split on '\n' and a
// "normalizer" that wraps each record. End-to-end tests with the real
// envelope and normalize packages live in internal/deliverytest.

func splitLines(body []byte, fn func([]byte)) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return envelope.ErrEmpty
	}
	for _, l := range bytes.Split(body, []byte("\n")) {
		if len(l) > 0 {
			fn(l)
		}
	}
	return nil
}

type wrapNormalizer struct{}

func (wrapNormalizer) Append(dst, rec []byte, extra ...normalize.Field) ([]byte, normalize.Meta, error) {
	if rec[0] != '{' {
		return dst, normalize.Meta{}, normalize.ErrNotObject
	}
	dst = append(dst, `{"r":`...)
	dst = append(dst, rec...)
	dst = append(dst, '}')
	return dst, normalize.Meta{Dataset: "test"}, nil
}

// memSink stores documents and fails the documents for which fail returns
// true, as long as failures > 0.
type memSink struct {
	mu       sync.Mutex
	docs     []string
	failures int
	fail     func(doc string) bool
	writes   int
	// badRaw counts documents whose Raw is not the record they were made
	// from (the test normalizer writes {"r":RECORD}).
	badRaw int
}

func (s *memSink) Name() string { return "mem" }
func (s *memSink) Close() error { return nil }
func (s *memSink) Write(_ context.Context, docs []sink.Doc) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	var failed []int
	for i, d := range docs {
		if string(d.JSON) != `{"r":`+string(d.Raw)+`}` {
			s.badRaw++
		}
		if s.failures > 0 && s.fail != nil && s.fail(string(d.JSON)) {
			failed = append(failed, i)
			continue
		}
		s.docs = append(s.docs, string(d.JSON))
	}
	if len(failed) > 0 {
		s.failures--
		return &sink.PartialError{Failed: failed, Err: errors.New("injected")}
	}
	return nil
}

func (s *memSink) snapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.docs...)
}

type memDead struct {
	mu      sync.Mutex
	entries []deadletter.Entry
}

func (d *memDead) Write(_ context.Context, e []deadletter.Entry) error {
	d.mu.Lock()
	d.entries = append(d.entries, e...)
	d.mu.Unlock()
	return nil
}
func (d *memDead) Close() error { return nil }

// sliceSource emits the given bodies, one batch each, on partition p, and
// records the acknowledgements in order.
type sliceSource struct {
	name   string
	bodies []string
	mu     sync.Mutex
	acks   []error
}

func (s *sliceSource) Name() string { return s.name }
func (s *sliceSource) Run(ctx context.Context, out Emitter) error {
	var wg sync.WaitGroup
	for i, b := range s.bodies {
		wg.Add(1)
		batch := &Batch{
			Messages: []Message{{Origin: Origin{Source: s.name, Type: "test", Partition: "0", Offset: int64(i), SequenceNumber: -1}, Body: []byte(b)}},
			Ack: func(err error) {
				s.mu.Lock()
				s.acks = append(s.acks, err)
				s.mu.Unlock()
				wg.Done()
			},
		}
		if err := out.Emit(ctx, batch); err != nil {
			wg.Done()
			break
		}
	}
	wg.Wait()
	return nil
}

func testOptions(sinks []sink.Sink, dl deadletter.Writer) Options {
	return Options{
		Sinks: sinks, DeadLetter: dl, QueueBatches: 2, Workers: 3,
		RetryInitial: time.Millisecond, RetryMax: 5 * time.Millisecond, DrainTimeout: 2 * time.Second,
		NewNormalizer: func() Normalizer { return wrapNormalizer{} },
		Split:         splitLines,
		Logger:        slog.New(slog.DiscardHandler),
	}
}

func TestDelivery(t *testing.T) {
	tests := []struct {
		name      string
		bodies    []string
		failures  int
		fail      func(string) bool
		wantDocs  int
		wantDead  int
		wantStage string
	}{
		{name: "all good", bodies: []string{`{"a":1}` + "\n" + `{"a":2}`, `{"a":3}`}, wantDocs: 3},
		{name: "empty body skipped", bodies: []string{"  ", `{"a":1}`}, wantDocs: 1},
		{name: "non-object dead-lettered", bodies: []string{`[1]` + "\n" + `{"a":1}`}, wantDocs: 1, wantDead: 1, wantStage: "normalize"},
		{name: "partial failures retried", bodies: []string{`{"a":1}` + "\n" + `{"bad":2}` + "\n" + `{"a":3}`, `{"bad":4}`}, failures: 5,
			fail: func(d string) bool { return strings.Contains(d, "bad") }, wantDocs: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms := &memSink{failures: tc.failures, fail: tc.fail}
			dl := &memDead{}
			src := &sliceSource{name: "s", bodies: tc.bodies}
			p := New(testOptions([]sink.Sink{ms}, dl))
			if err := p.Run(context.Background(), []Source{src}); err != nil {
				t.Fatal(err)
			}
			if got := len(ms.snapshot()); got != tc.wantDocs {
				t.Errorf("docs = %d, want %d: %v", got, tc.wantDocs, ms.snapshot())
			}
			if ms.badRaw > 0 {
				t.Errorf("%d documents came with another record than their own in Raw", ms.badRaw)
			}
			if len(dl.entries) != tc.wantDead {
				t.Errorf("dead = %d, want %d", len(dl.entries), tc.wantDead)
			}
			if tc.wantDead > 0 && dl.entries[0].Stage != tc.wantStage {
				t.Errorf("stage = %q, want %q", dl.entries[0].Stage, tc.wantStage)
			}
			if len(src.acks) != len(tc.bodies) {
				t.Fatalf("acks = %d, want %d", len(src.acks), len(tc.bodies))
			}
			for i, err := range src.acks {
				if err != nil {
					t.Errorf("ack %d: %v", i, err)
				}
			}
		})
	}
}

// A sink that never accepts: the pipeline must not acknowledge, and must
// give up after the drain timeout once shutdown starts.
func TestFailingSinkBlocksAckUntilShutdown(t *testing.T) {
	ms := &memSink{failures: 1 << 30, fail: func(string) bool { return true }}
	src := &sliceSource{name: "s", bodies: []string{`{"a":1}`, `{"a":2}`, `{"a":3}`}}
	opts := testOptions([]sink.Sink{ms}, &memDead{})
	opts.DrainTimeout = 50 * time.Millisecond
	p := New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx, []Source{src}) }()
	time.Sleep(100 * time.Millisecond)
	src.mu.Lock()
	early := len(src.acks)
	src.mu.Unlock()
	if early != 0 {
		t.Fatalf("%d batches acknowledged while the sink rejects everything", early)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the drain timeout")
	}
	for i, err := range src.acks {
		if err == nil {
			t.Errorf("ack %d succeeded though nothing was delivered", i)
		}
	}
}

func TestAckOrder(t *testing.T) {
	tests := []struct {
		name   string
		finish []int // order in which batches 0..n-1 complete
		failAt int   // batch that fails (-1: none)
		// abandonAt is a batch the pipeline never took (an Emit ended by
		// the stop): its Ack is not called (-1: none).
		abandonAt int
		wantAcks  []string
	}{
		{name: "in order", finish: []int{0, 1, 2}, failAt: -1, abandonAt: -1, wantAcks: []string{"0:ok", "1:ok", "2:ok"}},
		{name: "reversed", finish: []int{2, 1, 0}, failAt: -1, abandonAt: -1, wantAcks: []string{"0:ok", "1:ok", "2:ok"}},
		{name: "middle first", finish: []int{1, 0, 2}, failAt: -1, abandonAt: -1, wantAcks: []string{"0:ok", "1:ok", "2:ok"}},
		{name: "failure poisons later", finish: []int{0, 1, 2}, failAt: 1, abandonAt: -1, wantAcks: []string{"0:ok", "1:err", "2:err"}},
		// A stop while the source is blocked in Emit: the batches taken
		// before are delivered after the abandon and must be acked ok.
		{name: "abandoned last, earlier finish after", finish: []int{3, 1, 0, 2}, failAt: -1, abandonAt: 3, wantAcks: []string{"0:ok", "1:ok", "2:ok"}},
		{name: "abandoned middle holds back later only", finish: []int{1, 2, 0}, failAt: -1, abandonAt: 1, wantAcks: []string{"0:ok", "2:err"}},
		{name: "abandoned first", finish: []int{0, 1}, failAt: -1, abandonAt: 0, wantAcks: []string{"1:err"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newAckOrder()
			k := partKey{source: "s", partition: "0"}
			var got []string
			tickets := make([]*ticket, len(tc.finish))
			for i := range tickets {
				i := i
				tickets[i] = a.enqueue(k, &Batch{Ack: func(err error) {
					got = append(got, fmt.Sprintf("%d:%s", i, map[bool]string{true: "ok", false: "err"}[err == nil]))
				}})
			}
			for _, i := range tc.finish {
				if i == tc.abandonAt {
					a.abandon(k, tickets[i], context.Canceled)
					continue
				}
				var err error
				if i == tc.failAt {
					err = errors.New("x")
				}
				a.complete(k, tickets[i], err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.wantAcks) {
				t.Errorf("acks %v, want %v", got, tc.wantAcks)
			}
		})
	}
}

// The per-worker boxed fields must equal OriginFields, message after
// message, as the origin changes.
func TestOriginBoxesMatchOriginFields(t *testing.T) {
	now := time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)
	enq := now.Add(-time.Minute)
	origins := []Origin{
		{Source: "eh", Type: "eventhub", Stream: "hub", Partition: "0", Offset: 10, SequenceNumber: 5, EnqueuedTime: enq},
		{Source: "eh", Type: "eventhub", Stream: "hub", Partition: "1", Offset: 11, SequenceNumber: 6, EnqueuedTime: enq},
		{Source: "f", Type: "file", Stream: "/x", Partition: "/x", Offset: 3, SequenceNumber: -1},
		{Source: "h", Type: "http", Offset: -1, SequenceNumber: -1},
	}
	var boxes originBoxes
	for i, o := range origins {
		for _, at := range []time.Time{now, now.Add(time.Second)} {
			got := boxes.fields(nil, o, at)
			want := OriginFields(nil, o, at)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("origin %d: %v, want %v", i, got, want)
			}
		}
	}
	if got := OriginFields(nil, origins[3], now); len(got) != 3 {
		t.Errorf("unknown positions must be left out: %v", got)
	}
}

// The reusing splitter keeps envelope.SplitBody's contract.
func TestBodySplitterMatchesSplitBody(t *testing.T) {
	bodies := []string{
		`{"records":[{"a":1},{"a":2}]}`,
		`{"a":1}`,
		"{\"a\":1}\n{\"a\":2}\n",
		`[{"a":1},{"a":2}]`,
		"  \n ",
		"not json",
		"{\"a\":1}\ngarbage\n{\"a\":3}",
		"\xff\xfe",
	}
	var s bodySplitter
	for _, body := range bodies {
		var got, want []string
		gotErr := s.split([]byte(body), func(r []byte) { got = append(got, string(r)) })
		wantErr := envelope.SplitBody([]byte(body), func(r []byte) { want = append(want, string(r)) })
		if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Errorf("%q: got %q, %v; SplitBody %q, %v", body, got, gotErr, want, wantErr)
		}
		var ge, we *envelope.Error
		if errors.As(gotErr, &ge) != errors.As(wantErr, &we) || (ge != nil && string(ge.Raw) != string(we.Raw)) {
			t.Errorf("%q: raw bytes differ", body)
		}
	}
}

func TestBatchLen(t *testing.T) {
	mb := 1 << 20
	tests := []struct {
		n, max int
		sizes  []int
		want   int
	}{
		{n: 10, max: 4, sizes: []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, want: 4},
		{n: 3, max: 100, sizes: []int{1, 1, 1}, want: 3},
		{n: 5, max: 100, sizes: []int{mb, mb, mb, mb, mb}, want: 4},
		{n: 2, max: 100, sizes: []int{8 * mb, 1}, want: 1},
		{n: 1, max: 1, sizes: []int{0}, want: 1},
	}
	for i, tc := range tests {
		if got := BatchLen(tc.n, tc.max, func(j int) int { return tc.sizes[j] }); got != tc.want {
			t.Errorf("case %d: %d, want %d", i, got, tc.want)
		}
	}
}

// Two sinks: one fails part of its documents for a while. Every document
// reaches both, each sink gets each document once the retries settle, and
// batches are acknowledged only then.
func TestTwoSinks(t *testing.T) {
	ok := &memSink{}
	flaky := &memSink{failures: 20, fail: func(d string) bool { return strings.Contains(d, `"a":2`) }}
	src := &sliceSource{name: "s", bodies: []string{`{"a":1}` + "\n" + `{"a":2}`, `{"a":3}`}}
	p := New(testOptions([]sink.Sink{ok, flaky}, &memDead{}))
	if err := p.Run(context.Background(), []Source{src}); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*memSink{"ok": ok, "flaky": flaky} {
		if got := len(s.snapshot()); got != 3 {
			t.Errorf("%s sink has %d documents, want 3: %v", name, got, s.snapshot())
		}
	}
	if flaky.writes <= 2 {
		t.Errorf("flaky sink written %d times: the failure was not retried", flaky.writes)
	}
	for i, err := range src.acks {
		if err != nil {
			t.Errorf("ack %d: %v", i, err)
		}
	}
}
