package http_test

import (
	"bytes"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/source"
	httpsrc "github.com/defender-intake/defender-intake/internal/source/http"
)

const perRequest = 100

// httpHarness posts NDJSON bodies of 100 records, retrying each until it
// is answered 200, like a careful client; Delivered counts the records
// answered 200.
type httpHarness struct {
	mu        sync.Mutex
	addr      map[string]string // test dir -> listen address
	delivered map[string]int
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (h *httpHarness) addrOf(t *testing.T, dir string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if a, ok := h.addr[dir]; ok {
		return a
	}
	a := freeAddr(t)
	h.addr[dir] = a
	return a
}

func (h *httpHarness) harness() deliverytest.SourceHarness {
	return deliverytest.SourceHarness{
		Entry: func(t *testing.T, dir string) map[string]any {
			return map[string]any{"name": "in", "type": "http", "listen": h.addrOf(t, dir), "token": "t0ken", "timeout": "30s"}
		},
		Open: func(t *testing.T, dir string, env deliverytest.Env) pipeline.Source {
			c := *httpsrc.DefaultConfig()
			c.Listen, c.Token, c.Timeout = h.addrOf(t, dir), config.NewSecret("t0ken"), 30*time.Second
			return httpsrc.New("in", c, source.Env{Logger: env.Logger, Metrics: env.Metrics})
		},
		Produce: func(t *testing.T, dir string, records [][]byte) {
			url := "http://" + h.addrOf(t, dir) + "/ingest"
			client := &http.Client{Timeout: 60 * time.Second}
			for len(records) > 0 {
				n := min(perRequest, len(records))
				body := bytes.Join(records[:n], []byte("\n"))
				for attempt := 0; ; attempt++ {
					req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer t0ken")
					resp, err := client.Do(req)
					if err == nil {
						resp.Body.Close()
						if resp.StatusCode == http.StatusOK {
							break
						}
					}
					if attempt > 2000 {
						t.Errorf("POST never accepted: %v", err)
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
				h.mu.Lock()
				h.delivered[dir] += n
				h.mu.Unlock()
				records = records[n:]
			}
		},
		Delivered: func(t *testing.T, dir string) int {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.delivered[dir]
		},
		// A request is one batch, one message per record.
		MaxBatchMessages:  perRequest,
		RecordsPerMessage: 1,
		// Produce sends one request at a time.
		MaxBatchesInFlight: 1,
	}
}

func TestDelivery(t *testing.T) {
	h := &httpHarness{addr: map[string]string{}, delivered: map[string]int{}}
	deliverytest.RunSourceSuite(t, h.harness())
}

func TestRequests(t *testing.T) {
	tests := []struct {
		name   string
		method string
		auth   string
		body   string
		want   int
	}{
		{name: "no token", method: "POST", body: "{}", want: http.StatusUnauthorized},
		{name: "wrong token", method: "POST", auth: "Bearer nope", body: "{}", want: http.StatusUnauthorized},
		{name: "GET", method: "GET", auth: "Bearer t0ken", want: http.StatusMethodNotAllowed},
		{name: "too large", method: "POST", auth: "Bearer t0ken", body: string(make([]byte, 2<<20)), want: http.StatusRequestEntityTooLarge},
	}
	c := *httpsrc.DefaultConfig()
	c.Token, c.MaxBodyMB = config.NewSecret("t0ken"), 1
	s := httpsrc.New("in", c, source.Env{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "/ingest", bytes.NewReader([]byte(tc.body)))
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := &recorder{header: http.Header{}}
			s.ServeHTTP(rec, req)
			if rec.code != tc.want {
				t.Errorf("status %d, want %d (%s)", rec.code, tc.want, rec.body.String())
			}
		})
	}
}

type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(code int)        { r.code = code }
