package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/defender-intake/defender-intake/internal/query"
)

// Filter selects events: a compiled query over a time range [From, To).
type Filter struct {
	Where query.SQL
	From  time.Time
	To    time.Time
}

// where renders the filter's WHERE clause and arguments.
func (f Filter) where() (string, []any) {
	w := f.Where.Where
	if w == "" {
		w = "TRUE"
	}
	args := make([]any, 0, len(f.Where.Args)+2)
	args = append(args, f.From.UTC(), f.To.UTC())
	args = append(args, f.Where.Args...)
	return "ts >= ? AND ts < ? AND (" + w + ")", args
}

// Event is one stored event.
type Event struct {
	ID        uint64          `json:"id"`
	Timestamp time.Time       `json:"@timestamp"`
	Dataset   string          `json:"dataset"`
	Doc       json.RawMessage `json:"doc"`
	// Message is the raw record; only Get fills it.
	Message string `json:"message,omitempty"`
}

// Page is one page of search results, newest first.
type Page struct {
	Events []Event `json:"events"`
	// Total counts every match in the range.
	Total int64 `json:"total"`
	// Next is the cursor of the next page, empty on the last one.
	Next string `json:"next,omitempty"`
}

// ErrBadCursor is returned for a cursor this store did not produce.
var ErrBadCursor = errors.New("store: invalid cursor")

// cursor is the position after the last event of a page: (ts, id), since
// pages are ordered by ts then id, both descending.
func encodeCursor(ts time.Time, id uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(ts.UnixMicro(), 10) + "." + strconv.FormatUint(id, 10)))
}

func decodeCursor(c string) (time.Time, uint64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, 0, ErrBadCursor
	}
	a, bs, ok := strings.Cut(string(b), ".")
	if !ok {
		return time.Time{}, 0, ErrBadCursor
	}
	us, err1 := strconv.ParseInt(a, 10, 64)
	id, err2 := strconv.ParseUint(bs, 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, 0, ErrBadCursor
	}
	return time.UnixMicro(us).UTC(), id, nil
}

// Search returns up to limit events matching f, newest first, starting
// after cursor (empty for the first page), and the total number of matches.
func (s *Store) Search(ctx context.Context, f Filter, limit int, cursor string) (Page, error) {
	return s.SearchPage(ctx, f, limit, cursor, true)
}

// firstWindow is the newest slice of the range a page query looks at first.
const firstWindow = time.Hour

// SearchPage is Search with the total optional: counting every match of a
// bare-word search reads the whole range, while the first page usually
// fills from the newest hours. Without count, Total is -1.
//
// The page is read newest window first (1 h, then 4 h, 16 h, ...), so a
// page is found without scanning the older part of the range; events are
// stored roughly in time order and DuckDB skips row groups outside a window.
func (s *Store) SearchPage(ctx context.Context, f Filter, limit int, cursor string, count bool) (Page, error) {
	page := Page{Events: []Event{}, Total: -1}
	if limit < 1 {
		return page, errors.New("store: limit must be positive")
	}
	if err := CheckRange(f.From, f.To); err != nil {
		return Page{}, err
	}
	if count {
		n, err := s.count(ctx, f)
		if err != nil {
			return Page{}, err
		}
		page.Total = n
	}
	f = s.narrow(f)
	hi := f.To
	after := ""
	var afterArgs []any
	if cursor != "" {
		ts, id, err := decodeCursor(cursor)
		if err != nil {
			return Page{}, err
		}
		after = "(ts < ? OR (ts = ? AND id < ?::UBIGINT)) AND "
		afterArgs = []any{ts, ts, id}
		if c := ts.Add(time.Microsecond); c.Before(hi) {
			hi = c
		}
	}
	pred := f.Where.Where
	if pred == "" {
		pred = "TRUE"
	}
	width := firstWindow
	for hi.After(f.From) {
		if err := ctx.Err(); err != nil {
			return Page{}, err
		}
		lo := f.From
		if hi.Sub(f.From) > width {
			lo = hi.Add(-width)
		}
		q := "SELECT id, ts, coalesce(event_dataset, ''), doc FROM events WHERE " + after +
			"ts >= ? AND ts < ? AND (" + pred + ") ORDER BY ts DESC, id DESC LIMIT ?"
		qa := make([]any, 0, len(afterArgs)+len(f.Where.Args)+3)
		qa = append(append(append(append(qa, afterArgs...), lo.UTC(), hi.UTC()), f.Where.Args...), limit+1-len(page.Events))
		if err := s.scanEvents(ctx, q, qa, &page.Events); err != nil {
			return Page{}, err
		}
		if len(page.Events) > limit {
			break
		}
		hi = lo
		width = min(width, maxSpan/4) * 4 // no overflow: maxSpan is far below 2^63 ns
	}
	if len(page.Events) > limit {
		page.Events = page.Events[:limit]
		last := page.Events[limit-1]
		page.Next = encodeCursor(last.Timestamp, last.ID)
	}
	return page, nil
}

// count counts the matches of f.
func (s *Store) count(ctx context.Context, f Filter) (int64, error) {
	bk := buckets{from: f.From.UnixMicro(), to: f.To.UnixMicro(), start: f.From.UnixMicro(), counts: make([]int64, 1)}
	bk.width = max(bk.to-bk.from, 1)
	err := s.countIn(ctx, f, &bk)
	return bk.counts[0], err
}

// countIn adds the matches of f to bk's buckets: from the postings where
// they answer (postingsearch.go), with SQL for the rest.
func (s *Store) countIn(ctx context.Context, f Filter, bk *buckets) error {
	rest, _, ok, err := s.countExact(ctx, f, bk)
	if err != nil {
		return err
	}
	if !ok {
		rest = s.narrow(f)
	}
	where, args := rest.where()
	return s.countBuckets(ctx, where, args, bk, bk.counts)
}

// countBuckets adds to counts the events of where (with args) per bucket
// of bk.
func (s *Store) countBuckets(ctx context.Context, where string, args []any, bk *buckets, counts []int64) error {
	index, indexArgs := bk.sqlIndex()
	q := "SELECT " + index + " AS b, count(*) FROM events WHERE " + where + " GROUP BY b"
	rows, err := s.db.QueryContext(ctx, q, append(indexArgs, args...)...)
	if err != nil {
		return fmt.Errorf("store: count: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b, c int64
		if err := rows.Scan(&b, &c); err != nil {
			return fmt.Errorf("store: count: %w", err)
		}
		if b >= 0 && b < int64(len(counts)) {
			counts[b] += c
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: count: %w", err)
	}
	return nil
}

func (s *Store) scanEvents(ctx context.Context, q string, args []any, out *[]Event) error {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("store: search: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e Event
		var doc string
		if err := rows.Scan(&e.ID, &e.Timestamp, &e.Dataset, &doc); err != nil {
			return fmt.Errorf("store: search: %w", err)
		}
		e.Timestamp = e.Timestamp.UTC()
		e.Doc = json.RawMessage(doc)
		*out = append(*out, e)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: search: %w", err)
	}
	return nil
}

// ErrNotFound is returned by Get for an unknown id.
var ErrNotFound = errors.New("store: event not found")

// Get returns one event with its whole ECS document, message included.
func (s *Store) Get(ctx context.Context, id uint64) (Event, error) {
	var e Event
	var doc string
	var msg *string
	err := s.db.QueryRowContext(ctx, "SELECT id, ts, coalesce(event_dataset, ''), doc, message FROM events WHERE id = ?::UBIGINT", id).
		Scan(&e.ID, &e.Timestamp, &e.Dataset, &doc, &msg)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Event{}, ErrNotFound
		}
		return Event{}, fmt.Errorf("store: get %d: %w", id, err)
	}
	e.Timestamp = e.Timestamp.UTC()
	if msg != nil {
		e.Message = *msg
		doc = withMessage(doc, *msg)
	}
	e.Doc = json.RawMessage(doc)
	return e, nil
}

// withMessage puts the raw record back into the document as "message".
func withMessage(doc, msg string) string {
	m, _ := json.Marshal(msg)
	doc = strings.TrimSpace(doc)
	if doc == "{}" {
		return `{"message":` + string(m) + `}`
	}
	return doc[:len(doc)-1] + `,"message":` + string(m) + `}`
}

// Stats summarizes the store.
type Stats struct {
	Events     int64            `json:"events"`
	PerDataset map[string]int64 `json:"per_dataset"`
	Oldest     *time.Time       `json:"oldest,omitempty"`
	Newest     *time.Time       `json:"newest,omitempty"`
	Bytes      int64            `json:"bytes"`
	// IngestRate is events written per second over the last minute.
	IngestRate float64 `json:"ingest_rate"`
}

// Stats returns counts per dataset, the time span, the file size and the
// recent ingest rate.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	st := Stats{PerDataset: map[string]int64{}}
	rows, err := s.db.QueryContext(ctx, "SELECT coalesce(event_dataset, ''), count(*) FROM events GROUP BY 1")
	if err != nil {
		return st, fmt.Errorf("store: stats: %w", err)
	}
	for rows.Next() {
		var d string
		var c int64
		if err := rows.Scan(&d, &c); err != nil {
			rows.Close()
			return st, fmt.Errorf("store: stats: %w", err)
		}
		st.PerDataset[d] = c
		st.Events += c
	}
	rows.Close()
	if st.Events > 0 {
		var lo, hi time.Time
		if err := s.db.QueryRowContext(ctx, "SELECT min(ts), max(ts) FROM events").Scan(&lo, &hi); err != nil {
			return st, fmt.Errorf("store: stats: %w", err)
		}
		lo, hi = lo.UTC(), hi.UTC()
		st.Oldest, st.Newest = &lo, &hi
	}
	st.Bytes = s.diskBytes()
	st.IngestRate = s.rate.perSecond(time.Now())
	return st, nil
}

// diskBytes is the size of the database file, its write-ahead log and the
// word index.
func (s *Store) diskBytes() int64 {
	n := s.words.size()
	for _, p := range []string{s.path, s.path + ".wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}
