package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/defender-intake/defender-intake/internal/query"
	"github.com/defender-intake/defender-intake/internal/store"
	"github.com/defender-intake/defender-intake/internal/web"
)

// eventReader is what search reads: the store itself, or the API of the
// process that holds it open (DuckDB lets one process open a store).
type eventReader interface {
	// Stats are the store's counts and time span.
	Stats(ctx context.Context) (store.Stats, error)
	// Search returns a page of the events matching the query in
	// [from, to), newest first; cursor is the previous page's Next.
	Search(ctx context.Context, from, to time.Time, n int, cursor string) (store.Page, error)
	// Get returns one whole event.
	Get(ctx context.Context, id uint64) (store.Event, error)
}

// localReader reads the store directly, with the query compiled here.
type localReader struct {
	st    *store.Store
	where query.SQL
}

func (l localReader) Stats(ctx context.Context) (store.Stats, error) { return l.st.Stats(ctx) }

func (l localReader) Search(ctx context.Context, from, to time.Time, n int, cursor string) (store.Page, error) {
	return l.st.Search(ctx, store.Filter{Where: l.where, From: from, To: to}, n, cursor)
}

func (l localReader) Get(ctx context.Context, id uint64) (store.Event, error) {
	return l.st.Get(ctx, id)
}

// apiReader reads the store through the Events page API of the process
// serving it; the server compiles the query.
type apiReader struct {
	base, token, q string
	client         *http.Client
}

// newAPIReader reaches the server rec describes, with the token from
// tokenFile or the environment when the server needs one.
func newAPIReader(rec serverRecord, q, tokenFile string) (*apiReader, error) {
	r := &apiReader{base: strings.TrimSuffix(rec.URL, "/"), q: q, client: &http.Client{Timeout: 2 * time.Minute}}
	if rec.TokenRequired {
		switch {
		case tokenFile != "":
			b, err := os.ReadFile(tokenFile)
			if err != nil {
				return nil, fmt.Errorf("--token-file: %w", err)
			}
			r.token = strings.TrimSpace(string(b))
		default:
			r.token = os.Getenv(web.TokenEnv)
		}
		if r.token == "" {
			return nil, fmt.Errorf("the server at %s needs its API token: set $%s or give --token-file FILE", rec.URL, web.TokenEnv)
		}
	}
	return r, nil
}

// apiQueryError is a 400 from the API, with the position in the query
// when the query is what is wrong.
type apiQueryError struct {
	Msg      string `json:"error"`
	Position *int   `json:"position"`
	Hint     string `json:"hint"`
}

// Error is the server's message, which names the hint already.
func (e *apiQueryError) Error() string { return e.Msg }

func (r *apiReader) get(ctx context.Context, path string, params url.Values, into any) error {
	u := r.base + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("the server holding the store: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("GET %s: %w", r.base+path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var ae apiQueryError
		if json.Unmarshal(body, &ae) != nil || ae.Msg == "" {
			ae.Msg = strings.TrimSpace(string(body))
		}
		if resp.StatusCode == http.StatusBadRequest {
			return &ae
		}
		return fmt.Errorf("GET %s: %s: %s", r.base+path, resp.Status, ae.Msg)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("GET %s: %w", r.base+path, err)
	}
	return nil
}

func (r *apiReader) Stats(ctx context.Context) (store.Stats, error) {
	var out struct {
		Stats store.Stats `json:"stats"`
	}
	err := r.get(ctx, "/api/stats", nil, &out)
	return out.Stats, err
}

func (r *apiReader) Search(ctx context.Context, from, to time.Time, n int, cursor string) (store.Page, error) {
	p := url.Values{"q": {r.q}, "from": {from.Format(time.RFC3339Nano)}, "to": {to.Format(time.RFC3339Nano)}, "limit": {strconv.Itoa(n)}}
	if cursor != "" {
		p.Set("cursor", cursor)
	}
	var page store.Page
	err := r.get(ctx, "/api/events", p, &page)
	return page, err
}

func (r *apiReader) Get(ctx context.Context, id uint64) (store.Event, error) {
	var e store.Event
	err := r.get(ctx, "/api/events/"+strconv.FormatUint(id, 10), nil, &e)
	return e, err
}
