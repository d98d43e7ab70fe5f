package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/defender-intake/defender-intake/internal/detect/alerts"
)

// createAlertsTableSQL is the alerts table: one row per alert with its
// current state. The typed columns are what the Alerts view filters and
// sorts on; `alert` is the alert as the detection sink made it (JSON,
// without its tags and event ids, which are in their own columns), so
// reading returns exactly what was written (nanosecond times included)
// whatever fields alerts gain later. tags and event_ids are JSON arrays in
// text: as VARCHAR[] lists, DuckDB took 5 to 12 times longer to upsert
// alerts carrying 100 event ids (16 ms for 5 alerts, 200 ms for 500), and
// every byte of a row is written again at each update.
const createAlertsTableSQL = `CREATE TABLE IF NOT EXISTS alerts (
  id VARCHAR PRIMARY KEY,
  rule_id VARCHAR NOT NULL,
  rule_title VARCHAR NOT NULL,
  title VARCHAR NOT NULL,
  level VARCHAR NOT NULL,
  author VARCHAR NOT NULL,
  tags VARCHAR NOT NULL,
  host VARCHAR NOT NULL,
  user_name VARCHAR NOT NULL,
  service VARCHAR NOT NULL,
  group_key VARCHAR NOT NULL,
  first_seen TIMESTAMP NOT NULL,
  last_seen TIMESTAMP NOT NULL,
  count BIGINT NOT NULL,
  event_ids VARCHAR NOT NULL,
  alert VARCHAR NOT NULL
)`

// alertColumns are the columns an upsert writes, in argument order.
const alertColumns = "id, rule_id, rule_title, title, level, author, tags, host, user_name, service, group_key, first_seen, last_seen, count, event_ids, alert"

// upsertAlertsSQL replaces the rows of a batch of alerts with their new
// states in one statement whose one parameter is the batch as JSON
// (alertRow): binding one value per column per alert, or one statement
// per alert, costs DuckDB ten times more. With onlyNewer, a stored state
// is replaced only by one that is not older (fewer matches, or last seen
// earlier): an imported alert file must not roll back what detection has
// written since.
func upsertAlertsSQL(onlyNewer bool) string {
	q := `INSERT INTO alerts (` + alertColumns + `)
SELECT r.id, r.rule_id, r.rule_title, r.title, r.level, r.author, r.tags, r.host, r.user_name, r.service, r.group_key,
  make_timestamp(r.first_us), make_timestamp(r.last_us), r.count, r.event_ids, r.alert
FROM (SELECT unnest(from_json(?::JSON, '[{"id":"VARCHAR","rule_id":"VARCHAR","rule_title":"VARCHAR","title":"VARCHAR","level":"VARCHAR","author":"VARCHAR","tags":"VARCHAR","host":"VARCHAR","user_name":"VARCHAR","service":"VARCHAR","group_key":"VARCHAR","first_us":"BIGINT","last_us":"BIGINT","count":"BIGINT","event_ids":"VARCHAR","alert":"VARCHAR"}]'), recursive := true)) AS r
ON CONFLICT (id) DO UPDATE SET ` + setExcluded()
	if onlyNewer {
		q += " WHERE excluded.count >= alerts.count AND excluded.last_seen >= alerts.last_seen"
	}
	return q
}

func setExcluded() string {
	cols := strings.Split(alertColumns, ", ")[1:] // all but the key
	for i, c := range cols {
		cols[i] = c + " = excluded." + c
	}
	return strings.Join(cols, ", ")
}

// alertRow is one alert as upsertAlertsSQL reads it.
type alertRow struct {
	ID        string `json:"id"`
	RuleID    string `json:"rule_id"`
	RuleTitle string `json:"rule_title"`
	Title     string `json:"title"`
	Level     string `json:"level"`
	Author    string `json:"author"`
	Tags      string `json:"tags"` // JSON array
	Host      string `json:"host"`
	User      string `json:"user_name"`
	Service   string `json:"service"`
	GroupKey  string `json:"group_key"`
	FirstUS   int64  `json:"first_us"`
	LastUS    int64  `json:"last_us"`
	Count     int64  `json:"count"`
	EventIDs  string `json:"event_ids"` // JSON array
	// Alert is the alert's JSON without tags and event ids (the alert
	// column).
	Alert string `json:"alert"`
}

// PutAlerts stores the current state of each alert (an upsert by id). It
// returns nil only once the states are durable: appended to the alert log
// and fsynced (alertlog.go), from which a crash recovers them at the next
// Open, so the detection sink may acknowledge the batch. They reach the
// alerts table within about a second (loadAlertsEvery), the repeated
// states of one alert as one row write; every read of alerts (Alerts,
// RecentAlerts) and Flush load what is pending first, so a reader sees
// what was put before it started. When an id appears more than once, the
// last state wins.
func (s *Store) PutAlerts(ctx context.Context, as []alerts.Alert) error {
	return s.logAlerts(ctx, as)
}

// ImportAlerts stores alerts read from elsewhere (an alert file of an
// earlier version): an alert the store already holds in a newer state
// (more matches, or seen later) is left as it is. Rare (an upgrade, `serve
// --alerts`), so it commits to DuckDB directly, after loading the states
// PutAlerts logged so that it compares with them.
func (s *Store) ImportAlerts(ctx context.Context, as []alerts.Alert) error {
	if len(as) == 0 {
		return nil
	}
	rows := make([][]byte, 0, len(as))
	seen := make(map[string]int, len(as))
	for _, a := range as {
		row, err := appendAlertRow(nil, a)
		if err != nil {
			return err
		}
		if i, ok := seen[a.ID]; ok { // one row per id in a statement
			rows[i] = row
			continue
		}
		seen[a.ID] = len(rows)
		rows = append(rows, row)
	}
	return s.withAlertsLoaded(ctx, func() error {
		return s.upsertAlertRows(ctx, rows, true)
	})
}

// appendAlertRow appends a as one alertRow JSON document to dst.
func appendAlertRow(dst []byte, a alerts.Alert) ([]byte, error) {
	lists := a
	lists.Tags, lists.EventIDs = nil, nil // in their own columns
	doc, err := json.Marshal(lists)
	if err != nil {
		return dst, fmt.Errorf("store: alert %s: encode: %w", a.ID, err)
	}
	row, err := json.Marshal(alertRow{
		ID: a.ID, RuleID: a.RuleID, RuleTitle: a.RuleTitle, Title: a.Title, Level: a.Level, Author: a.Author,
		Tags: jsonList(a.Tags), Host: a.Host, User: a.User, Service: a.Service, GroupKey: a.GroupKey,
		FirstUS: a.FirstSeen.UnixMicro(), LastUS: a.LastSeen.UnixMicro(), Count: int64(a.Count),
		EventIDs: jsonList(a.EventIDs), Alert: string(doc),
	})
	if err != nil {
		return dst, fmt.Errorf("store: alert %s: encode: %w", a.ID, err)
	}
	return append(dst, row...), nil
}

// upsertAlertRows writes rows (alertRow JSON documents, one per id) to
// the alerts table in one transaction, returning once it is committed.
func (s *Store) upsertAlertRows(ctx context.Context, rows [][]byte, onlyNewer bool) error {
	if len(rows) == 0 {
		return nil
	}
	size := 2
	for _, r := range rows {
		size += len(r) + 1
	}
	batch := make([]byte, 0, size)
	batch = append(batch, '[')
	for i, r := range rows {
		if i > 0 {
			batch = append(batch, ',')
		}
		batch = append(batch, r...)
	}
	batch = append(batch, ']')
	// A pool connection, not the event loader's: an alert commit does not
	// wait behind a large load of events, and the tables never conflict.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: alerts: begin: %w", err)
	}
	defer tx.Rollback() // no-op after Commit
	if _, err := tx.ExecContext(ctx, upsertAlertsSQL(onlyNewer), string(batch)); err != nil {
		return fmt.Errorf("store: upserting %d alerts: %w", len(rows), err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: alerts: commit: %w", err)
	}
	return nil
}

// readList reads a tags or event_ids column; an empty list is nil, as
// the detection sink makes it.
func readList(text string, l *[]string) error {
	*l = nil
	if text == "[]" {
		return nil
	}
	if err := json.Unmarshal([]byte(text), l); err != nil {
		return fmt.Errorf("store: alerts: stored list is not valid JSON: %w", err)
	}
	return nil
}

// jsonList is l as a JSON array ("[]" when empty).
func jsonList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // strings always encode
	return string(b)
}

// AlertFilter selects alerts; every set field must hold (AND).
type AlertFilter struct {
	// Rule is a rule id, or a case-insensitive part of the rule title or
	// of the alert title.
	Rule string
	// Levels are Sigma levels (informational ... critical), any of them.
	Levels []string
	// Host is a host name, compared case-insensitively.
	Host string
	// From and To select the alerts active in [From, To): last seen at or
	// after From, first seen before To. A zero time leaves that end open.
	From, To time.Time
	// Limit caps the alerts returned (Total still counts every match);
	// 0 returns them all.
	Limit int
}

// AlertPage is the answer to Alerts.
type AlertPage struct {
	// Alerts are the matching alerts, newest (last seen) first, then by id.
	Alerts []alerts.Alert
	// Total counts every matching alert, beyond Limit.
	Total int
}

// where renders the filter as a parameterized WHERE clause.
func (f AlertFilter) where() (string, []any) {
	conds := []string{"TRUE"}
	var args []any
	if f.Rule != "" {
		conds = append(conds, "(rule_id = ? OR contains(lower(rule_title), ?) OR contains(lower(title), ?))")
		r := strings.ToLower(f.Rule)
		args = append(args, f.Rule, r, r)
	}
	if len(f.Levels) > 0 {
		conds = append(conds, "level IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(f.Levels)), ", ")+")")
		for _, l := range f.Levels {
			args = append(args, strings.ToLower(l))
		}
	}
	if f.Host != "" {
		conds = append(conds, "lower(host) = ?")
		args = append(args, strings.ToLower(f.Host))
	}
	if !f.From.IsZero() {
		conds = append(conds, "last_seen >= ?")
		args = append(args, f.From.UTC())
	}
	if !f.To.IsZero() {
		conds = append(conds, "first_seen < ?")
		args = append(args, f.To.UTC())
	}
	return strings.Join(conds, " AND "), args
}

// Alerts returns the alerts f selects, newest (last seen) first.
func (s *Store) Alerts(ctx context.Context, f AlertFilter) (AlertPage, error) {
	if f.Limit < 0 {
		return AlertPage{}, errors.New("store: alerts: negative limit")
	}
	if err := s.loadAlerts(ctx); err != nil { // read your writes
		return AlertPage{}, err
	}
	where, args := f.where()
	q := "SELECT alert, tags, event_ids, count(*) OVER () FROM alerts WHERE " + where + " ORDER BY last_seen DESC, id"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	page := AlertPage{Alerts: []alerts.Alert{}}
	err := s.scanAlerts(ctx, q, args, func(a alerts.Alert, total int) {
		page.Alerts = append(page.Alerts, a)
		page.Total = total
	})
	if err != nil {
		return AlertPage{}, err
	}
	// No row means no match (Limit >= 1 returns one when any matches):
	// Total stays 0.
	return page, nil
}

// RecentAlerts returns the alerts last seen within window of the newest
// alert's last sighting: those a new match can still join, for the
// detection sink to reopen after a restart.
func (s *Store) RecentAlerts(ctx context.Context, window time.Duration) ([]alerts.Alert, error) {
	if err := s.loadAlerts(ctx); err != nil {
		return nil, err
	}
	q := "SELECT alert, tags, event_ids, 0 FROM alerts WHERE last_seen >= (SELECT max(last_seen) FROM alerts) - to_microseconds(?) ORDER BY last_seen, id"
	var out []alerts.Alert
	err := s.scanAlerts(ctx, q, []any{window.Microseconds()}, func(a alerts.Alert, _ int) { out = append(out, a) })
	return out, err
}

func (s *Store) scanAlerts(ctx context.Context, q string, args []any, each func(alerts.Alert, int)) error {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("store: alerts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var doc, tags, ids string
		var total int64
		if err := rows.Scan(&doc, &tags, &ids, &total); err != nil {
			return fmt.Errorf("store: alerts: %w", err)
		}
		var a alerts.Alert
		if err := json.Unmarshal([]byte(doc), &a); err != nil {
			return fmt.Errorf("store: alerts: stored alert is not valid JSON: %w", err)
		}
		if err := readList(tags, &a.Tags); err != nil {
			return err
		}
		if err := readList(ids, &a.EventIDs); err != nil {
			return err
		}
		each(a, int(total))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: alerts: %w", err)
	}
	return nil
}

// RetainAlerts deletes the alerts last seen before now minus MaxAge, the
// events' retention age: an alert goes with the last of its events. Alerts
// are small next to events, so max_bytes does not count them. It returns
// the number of alerts deleted.
func (s *Store) RetainAlerts(ctx context.Context, now time.Time) (int64, error) {
	if s.cfg.MaxAge <= 0 {
		return 0, nil
	}
	// Pending states first: loaded after the delete, an old one would
	// stay until the next round.
	var n int64
	err := s.withAlertsLoaded(ctx, func() error {
		res, err := s.db.ExecContext(ctx, "DELETE FROM alerts WHERE last_seen < ?", now.Add(-s.cfg.MaxAge).UTC())
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: alert retention: %w", err)
	}
	if n > 0 {
		s.log.Info("store: retention deleted alerts", "alerts", n)
	}
	return n, nil
}
