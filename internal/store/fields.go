package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fastjson"

	"github.com/defender-intake/defender-intake/internal/query"
)

// fieldSet is the catalogue of fields seen in stored documents. Walking
// every document would cost as much as storing it, so only a sample is
// walked: the first documents, then one in sampleEvery. Documents of one
// dataset share their shape, so the sample finds the fields that matter.
type fieldSet struct {
	mu      sync.RWMutex
	known   map[string]string // field -> JSON type (string, number, ...)
	pending map[string]string // seen, not yet saved in the fields table
	seen    atomic.Uint64
}

const (
	sampleFirst = 2000
	sampleEvery = 97
	maxFields   = 5000 // bound on the catalogue against runaway key sets
)

func newFieldSet() *fieldSet {
	f := &fieldSet{known: map[string]string{}, pending: map[string]string{}}
	for _, c := range typedColumns {
		f.known[c.Field] = kindName(c.Kind)
	}
	f.known["@timestamp"] = "date"
	f.known["message"] = "text"
	return f
}

func kindName(k query.Kind) string {
	switch k {
	case query.Int:
		return "number"
	case query.Time:
		return "date"
	case query.Text:
		return "text"
	case query.KeywordList:
		return "keyword[]"
	}
	return "keyword"
}

func (f *fieldSet) load(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT name, type FROM fields`)
	if err != nil {
		return fmt.Errorf("store: load fields: %w", err)
	}
	defer rows.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	for rows.Next() {
		var n, t string
		if err := rows.Scan(&n, &t); err != nil {
			return fmt.Errorf("store: load fields: %w", err)
		}
		if _, ok := f.known[n]; !ok {
			f.known[n] = t
		}
	}
	return rows.Err()
}

// observe records the fields of a sampled document. Write calls it from
// several goroutines at once.
func (f *fieldSet) observe(v *fastjson.Value) {
	n := f.seen.Add(1)
	if n > sampleFirst && n%sampleEvery != 0 {
		return
	}
	f.walk(v, "")
}

func (f *fieldSet) walk(v *fastjson.Value, prefix string) {
	o, err := v.Object()
	if err != nil {
		return
	}
	o.Visit(func(k []byte, x *fastjson.Value) {
		name := string(k)
		if prefix != "" {
			name = prefix + "." + name
		}
		if !validField(name) {
			return
		}
		t := "keyword"
		switch x.Type() {
		case fastjson.TypeObject:
			f.walk(x, name)
			return
		case fastjson.TypeNumber:
			t = "number"
		case fastjson.TypeTrue, fastjson.TypeFalse:
			t = "boolean"
		case fastjson.TypeArray:
			t = "array"
		case fastjson.TypeNull:
			return
		}
		f.mu.RLock()
		_, ok := f.known[name]
		f.mu.RUnlock()
		if ok {
			return
		}
		f.mu.Lock()
		if len(f.known) < maxFields {
			f.known[name] = t
			f.pending[name] = t
		}
		f.mu.Unlock()
	})
}

// validField accepts the names the query language can express.
func validField(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '@' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// save writes newly seen fields to the fields table.
func (f *fieldSet) save(ctx context.Context, conn *sql.Conn) error {
	f.mu.Lock()
	pending := f.pending
	f.pending = map[string]string{}
	f.mu.Unlock()
	for n, t := range pending {
		if _, err := conn.ExecContext(ctx, `INSERT INTO fields (name, type) VALUES (?, ?) ON CONFLICT DO NOTHING`, n, t); err != nil {
			f.mu.Lock()
			for n, t := range pending {
				f.pending[n] = t
			}
			f.mu.Unlock()
			return fmt.Errorf("store: save fields: %w", err)
		}
	}
	return nil
}

// Field describes one searchable field.
type Field struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Typed bool   `json:"typed"` // has its own column: fastest to filter on
}

// Fields lists the known fields, sorted by name.
func (s *Store) Fields() []Field {
	s.fields.mu.RLock()
	out := make([]Field, 0, len(s.fields.known))
	for n, t := range s.fields.known {
		_, typed := typedByField[n]
		out = append(out, Field{Name: n, Type: t, Typed: typed || n == "@timestamp"})
	}
	s.fields.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Catalog returns the query catalogue over the store's columns.
func (s *Store) Catalog() query.Catalog { return catalog{s.fields} }

// Dir is the data directory the store was opened in.
func (s *Store) Dir() string { return s.cfg.Dir }

type catalog struct{ f *fieldSet }

func (c catalog) Column(field string) (query.Column, bool) {
	switch field {
	case "@timestamp":
		return query.Column{Expr: colTS, Kind: query.Time}, true
	case "message":
		return query.Column{Expr: colMessage, Kind: query.Text}, true
	}
	if t, ok := typedByField[field]; ok {
		return query.Column{Expr: t.Column, Kind: t.Kind}, true
	}
	c.f.mu.RLock()
	_, ok := c.f.known[field]
	c.f.mu.RUnlock()
	if !ok || !validField(field) {
		return query.Column{}, false
	}
	// The path is an argument, so the field name never enters SQL text.
	return query.Column{Expr: "json_extract_string(doc, ?)", Args: []any{jsonPath(field)}, Kind: query.Keyword}, true
}

func (c catalog) Raw() query.Column { return query.Column{Expr: colMessage, Kind: query.Text} }

// jsonPath quotes every segment so that names with '@' or '-' work.
func jsonPath(field string) string {
	var b strings.Builder
	b.WriteByte('$')
	for _, p := range strings.Split(field, ".") {
		b.WriteString(`."`)
		b.WriteString(p)
		b.WriteByte('"')
	}
	return b.String()
}

// rateMeter counts written events per second over the last minute.
type rateMeter struct {
	mu      sync.Mutex
	buckets [60]struct {
		sec int64
		n   int
	}
}

func (r *rateMeter) add(t time.Time, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sec := t.Unix()
	b := &r.buckets[sec%60]
	if b.sec != sec {
		b.sec, b.n = sec, 0
	}
	b.n += n
}

// perSecond is the mean rate over the last 60 seconds.
func (r *rateMeter) perSecond(now time.Time) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	total := 0
	for _, b := range r.buckets {
		if now.Unix()-b.sec < 60 {
			total += b.n
		}
	}
	return float64(total) / 60
}
