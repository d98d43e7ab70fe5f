package elasticsearch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// fakeES follows the documented _bulk request and response formats
// (newline-delimited action and source lines; a response with "errors"
// and one item per action, in order, each with its own status and error)
// and the index template API. It keeps what it stored and fails on
// demand, per request or per item.
type fakeES struct {
	mu        sync.Mutex
	auth      string // expected Authorization header
	templates map[string]map[string]any
	stored    map[string][][]byte // data stream -> sources
	requests  int
	bad       []string
	// reqFail answers the n-th _bulk request instead (true: handled).
	reqFail func(n int, w http.ResponseWriter) bool
	// itemFail gives the status and error type of an item (0: created).
	itemFail func(doc map[string]any) (int, string)
}

func newFakeES(auth string) *fakeES {
	return &fakeES{auth: auth, templates: map[string]map[string]any{}, stored: map[string][][]byte{}}
}

func (f *fakeES) problem(format string, a ...any) {
	f.mu.Lock()
	f.bad = append(f.bad, fmt.Sprintf(format, a...))
	f.mu.Unlock()
}

func (f *fakeES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if got := r.Header.Get("Authorization"); got != f.auth {
		f.problem("authorization %q", got)
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"type":"security_exception","reason":"missing authentication credentials"},"status":401}`)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the client went away (a killed service)
	}
	switch {
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/_index_template/"):
		var t map[string]any
		if err := json.Unmarshal(body, &t); err != nil {
			f.problem("template: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.templates[strings.TrimPrefix(r.URL.Path, "/_index_template/")] = t
		f.mu.Unlock()
		io.WriteString(w, `{"acknowledged":true}`)
	case r.Method == http.MethodPost && r.URL.Path == "/_bulk":
		f.bulk(w, r, body)
	default:
		f.problem("unexpected %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	}
}

func (f *fakeES) bulk(w http.ResponseWriter, r *http.Request, body []byte) {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		f.problem("bulk content type %q", ct)
	}
	f.mu.Lock()
	f.requests++
	n := f.requests
	f.mu.Unlock()
	if f.reqFail != nil && f.reqFail(n, w) {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 64<<20)
	type item struct {
		Index  string         `json:"_index"`
		Status int            `json:"status"`
		Result string         `json:"result,omitempty"`
		Error  map[string]any `json:"error,omitempty"`
	}
	var items []map[string]item
	hasErrors := false
	for sc.Scan() {
		var action map[string]map[string]any
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || len(action) != 1 || action["create"] == nil {
			f.problem("action line %q", sc.Text())
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		index, _ := action["create"]["_index"].(string)
		if !strings.HasPrefix(index, "logs-defender.") {
			f.problem("index %q", index)
		}
		if !sc.Scan() {
			f.problem("action without source")
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		src := append([]byte(nil), sc.Bytes()...)
		var doc map[string]any
		if err := json.Unmarshal(src, &doc); err != nil {
			f.problem("source line: %v", err)
		}
		status, typ := 0, ""
		if f.itemFail != nil {
			status, typ = f.itemFail(doc)
		}
		if status == 0 {
			f.mu.Lock()
			f.stored[index] = append(f.stored[index], src)
			f.mu.Unlock()
			items = append(items, map[string]item{"create": {Index: index, Status: 201, Result: "created"}})
			continue
		}
		hasErrors = true
		items = append(items, map[string]item{"create": {Index: index, Status: status,
			Error: map[string]any{"type": typ, "reason": "failed to parse field [source.ip] of type [ip]"}}})
	}
	json.NewEncoder(w).Encode(map[string]any{"took": 3, "errors": hasErrors, "items": items})
}

func (f *fakeES) all() (docs [][]byte, requests int, bad []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.stored {
		docs = append(docs, d...)
	}
	return docs, f.requests, append([]string(nil), f.bad...)
}
