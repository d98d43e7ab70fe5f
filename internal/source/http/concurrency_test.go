package http_test

import (
	"io"
	"net"
	"strconv"

	"bytes"
	"context"
	"encoding/json"
	"github.com/defender-intake/defender-intake/internal/metrics"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/source"
	httpsrc "github.com/defender-intake/defender-intake/internal/source/http"
)

// heldEmitter holds every batch until release is closed, counting how
// many are held at once.
type heldEmitter struct {
	mu      sync.Mutex
	held    int
	maxHeld int
	emitted int
	release chan struct{}
}

func (e *heldEmitter) Emit(_ context.Context, b *pipeline.Batch) error {
	e.mu.Lock()
	e.held++
	e.emitted++
	e.maxHeld = max(e.maxHeld, e.held)
	e.mu.Unlock()
	go func() {
		<-e.release
		e.mu.Lock()
		e.held--
		e.mu.Unlock()
		b.Ack(nil)
	}()
	return nil
}

// While delivery is stuck, no more than max_concurrent requests are
// taken in; the others wait, and all are answered once it resumes.
func TestMaxConcurrent(t *testing.T) {
	c := *httpsrc.DefaultConfig()
	c.Listen, c.MaxConcurrent = freeAddr(t), 2
	s := httpsrc.New("in", c, source.Env{})
	em := &heldEmitter{release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, em) }()
	for s.Addr() == "" {
		time.Sleep(time.Millisecond)
	}
	codes := make(chan int, 5)
	for i := 0; i < 5; i++ {
		go func() {
			resp, err := http.Post("http://"+s.Addr()+"/ingest", "application/json", bytes.NewReader([]byte(`{"a":1}`)))
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	time.Sleep(300 * time.Millisecond)
	em.mu.Lock()
	held := em.held
	em.mu.Unlock()
	if held != 2 {
		t.Errorf("%d requests taken in while delivery is stuck, want max_concurrent = 2", held)
	}
	close(em.release)
	for i := 0; i < 5; i++ {
		if code := <-codes; code != http.StatusOK {
			t.Errorf("status %d", code)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if em.maxHeld != 2 {
		t.Errorf("at most %d held, want 2", em.maxHeld)
	}
}

// While delivery is stuck, requests answered 503 on timeout keep their
// delivery slot until their batch is acknowledged: a client that retries
// every 503 does not put a new copy of its records into the pipeline at
// each attempt (each would be delivered once the sink recovers, as
// duplicates). At most max_concurrent batches are in the pipeline.
func TestTimedOutRequestsKeepTheirSlot(t *testing.T) {
	c := *httpsrc.DefaultConfig()
	c.Listen, c.MaxConcurrent, c.Timeout = freeAddr(t), 2, 100*time.Millisecond
	s := httpsrc.New("in", c, source.Env{})
	em := &heldEmitter{release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, em) }()
	for s.Addr() == "" {
		time.Sleep(time.Millisecond)
	}
	const attempts = 10
	for i := 0; i < attempts; i++ {
		resp, err := http.Post("http://"+s.Addr()+"/ingest", "application/json", bytes.NewReader([]byte(`{"a":1}`)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("attempt %d answered %d while delivery is stuck, want 503", i, resp.StatusCode)
		}
	}
	em.mu.Lock()
	held := em.maxHeld
	em.mu.Unlock()
	if held != c.MaxConcurrent {
		t.Errorf("%d batches put into the stuck pipeline by %d attempts, want max_concurrent = %d", held, attempts, c.MaxConcurrent)
	}
	close(em.release)
	// Once delivery resumes, the slots come back.
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		resp, err := http.Post("http://"+s.Addr()+"/ingest", "application/json", bytes.NewReader([]byte(`{"a":1}`)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("still %d after delivery resumed", resp.StatusCode)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// sizingEmitter acknowledges every batch at once as all taken, noting the
// largest batch in bytes and the number of batches.
type sizingEmitter struct {
	mu               sync.Mutex
	batches, largest int
}

func (e *sizingEmitter) Emit(_ context.Context, b *pipeline.Batch) error {
	size := 0
	for _, m := range b.Messages {
		size += len(m.Body)
	}
	e.mu.Lock()
	e.batches++
	e.largest = max(e.largest, size)
	e.mu.Unlock()
	b.Outcome = pipeline.Outcome{Taken: len(b.Messages)}
	go b.Ack(nil)
	return nil
}

// A large body goes to the pipeline in batches of at most
// pipeline.MaxBatchBytes (a worker holds a batch's documents while it
// delivers them), and the answer counts the records of all of them.
func TestLargeBodyInBatches(t *testing.T) {
	c := *httpsrc.DefaultConfig()
	c.Listen = freeAddr(t)
	s := httpsrc.New("in", c, source.Env{})
	em := &sizingEmitter{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, em) }()
	defer func() {
		cancel()
		<-done
	}()
	for s.Addr() == "" {
		time.Sleep(time.Millisecond)
	}
	rec := []byte(`{"a":"` + strings.Repeat("x", 4000) + `"}`)
	const n = 3000 // 12 MB
	body := bytes.Repeat(append(rec, '\n'), n)
	resp, err := http.Post("http://"+s.Addr()+"/ingest", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var a struct{ Taken int }
	json.NewDecoder(resp.Body).Decode(&a)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || a.Taken != n {
		t.Fatalf("answered %d with %d taken, want 200 with %d", resp.StatusCode, a.Taken, n)
	}
	em.mu.Lock()
	defer em.mu.Unlock()
	if em.largest > pipeline.MaxBatchBytes+len(rec) || em.batches < 3 {
		t.Errorf("%d batches, the largest %d bytes; want batches of at most %d bytes", em.batches, em.largest, pipeline.MaxBatchBytes)
	}
}

// A client that leaves while its request waits for a delivery slot has
// nothing put into the pipeline: it never got an answer, so what it sends
// again must not be a duplicate. Requests waiting for a slot held by a
// stuck batch kept waiting after their clients left, and each was
// delivered once a slot came back.
func TestClientGoneBeforeSlotEmitsNothing(t *testing.T) {
	c := *httpsrc.DefaultConfig()
	c.Listen, c.MaxConcurrent = freeAddr(t), 1
	m := metrics.New()
	s := httpsrc.New("in", c, source.Env{Metrics: m})
	em := &heldEmitter{release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, em) }()
	for s.Addr() == "" {
		time.Sleep(time.Millisecond)
	}
	first := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+s.Addr()+"/ingest", "application/json", bytes.NewReader([]byte(`{"a":1}`)))
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	for held := 0; held == 0; time.Sleep(time.Millisecond) {
		em.mu.Lock()
		held = em.held
		em.mu.Unlock()
	}
	const gone = 5
	body := `{"a":2}`
	for range gone {
		conn, err := net.DialTimeout("tcp", s.Addr(), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, "POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
		conn.Close()
	}
	// Each is answered (to no one) once the server sees its client left.
	refused := func() float64 {
		return testutil.ToFloat64(m.HTTPRefusals.WithLabelValues("in", "503")) + testutil.ToFloat64(m.HTTPRefusals.WithLabelValues("in", "400"))
	}
	for start := time.Now(); refused() < gone; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("%v of %d requests whose client left were given up", refused(), gone)
		}
	}
	close(em.release)
	if code := <-first; code != http.StatusOK {
		t.Errorf("first request answered %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	em.mu.Lock()
	defer em.mu.Unlock()
	if em.emitted != 1 {
		t.Errorf("%d batches emitted, want 1: the requests whose client left must not be", em.emitted)
	}
}
