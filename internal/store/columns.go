package store

import (
	"strconv"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/defender-intake/defender-intake/internal/query"
)

// typedColumn is an ECS field kept in its own column because analysts filter
// on it often: DuckDB then scans a compact, compressed column instead of
// parsing JSON. To add one, append it here (docs/store.md explains).
type typedColumn struct {
	Field   string     // ECS field name
	Column  string     // SQL column name
	SQLType string     // DuckDB type
	Kind    query.Kind // how the search language compares it
}

// typedColumns lists the typed columns in table order, after id, ts and
// ingested. The order is the Appender's column order.
var typedColumns = []typedColumn{
	{"event.dataset", "event_dataset", "VARCHAR", query.Keyword},
	{"event.category", "event_category", "VARCHAR[]", query.KeywordList},
	{"event.action", "event_action", "VARCHAR", query.Keyword},
	{"action.type", "action_type", "VARCHAR", query.Keyword},
	{"host.name", "host_name", "VARCHAR", query.Keyword},
	{"host.id", "host_id", "VARCHAR", query.Keyword},
	{"user.name", "user_name", "VARCHAR", query.Keyword},
	{"user.domain", "user_domain", "VARCHAR", query.Keyword},
	{"process.name", "process_name", "VARCHAR", query.Keyword},
	{"process.command_line", "process_command_line", "VARCHAR", query.Text},
	{"process.parent.name", "process_parent_name", "VARCHAR", query.Keyword},
	{"file.name", "file_name", "VARCHAR", query.Keyword},
	{"file.hash.sha256", "file_hash_sha256", "VARCHAR", query.Keyword},
	{"registry.key", "registry_key", "VARCHAR", query.Keyword},
	{"source.ip", "source_ip", "VARCHAR", query.Keyword},
	{"destination.ip", "destination_ip", "VARCHAR", query.Keyword},
	{"destination.port", "destination_port", "INTEGER", query.Int},
	{"url.original", "url_original", "VARCHAR", query.Text},
	{"email.from.address", "email_from_address", "VARCHAR", query.Keyword},
	{"microsoft.defender.alert.id", "alert_id", "VARCHAR", query.Keyword},
}

// fixedColumns are the columns that are not plain typed ECS fields.
const (
	colID       = "id"       // UBIGINT, assigned by the store, increasing
	colTS       = "ts"       // TIMESTAMP (UTC) = @timestamp
	colIngested = "ingested" // TIMESTAMP (UTC) when the store wrote it
	colDoc      = "doc"      // the ECS document as JSON, without message
	colMessage  = "message"  // the raw record (the ECS message field)
)

var typedByField = func() map[string]typedColumn {
	m := make(map[string]typedColumn, len(typedColumns))
	for _, c := range typedColumns {
		m[c.Field] = c
	}
	return m
}()

// typedPaths are the typed columns' fields split at dots, made once rather
// than for every document.
var typedPaths = func() [][]string {
	out := make([][]string, len(typedColumns))
	for i, c := range typedColumns {
		out[i] = strings.Split(c.Field, ".")
	}
	return out
}()

// lookup finds a dotted field (path: its parts) in a document: nested
// objects first, then a flattened "a.b" key, so both document shapes work.
func lookup(v *fastjson.Value, field string, path []string) *fastjson.Value {
	if x := v.Get(path...); x != nil {
		return x
	}
	if len(path) == 1 {
		return nil
	}
	return v.Get(field)
}

// extract returns the value of a typed column for the Appender (strings in
// a): nil when the field is absent or null.
func extract(doc *fastjson.Value, c typedColumn, path []string, a *arena) any {
	return extractValue(lookup(doc, c.Field, path), c, a)
}

// extractValue is extract for the field's value x (nil when absent).
func extractValue(x *fastjson.Value, c typedColumn, a *arena) any {
	if x == nil || x.Type() == fastjson.TypeNull {
		return nil
	}
	switch c.Kind {
	case query.Int:
		switch x.Type() {
		case fastjson.TypeNumber:
			n, err := x.Int()
			if err != nil {
				return nil
			}
			return int32(n)
		case fastjson.TypeString:
			n, err := strconv.ParseInt(string(x.GetStringBytes()), 10, 32)
			if err != nil {
				return nil
			}
			return int32(n)
		}
		return nil
	case query.KeywordList:
		if x.Type() == fastjson.TypeArray {
			arr := x.GetArray()
			out := make([]string, 0, len(arr))
			for _, e := range arr {
				out = append(out, scalarString(e, a))
			}
			return out
		}
		return []string{scalarString(x, a)}
	}
	return scalarString(x, a)
}

// scalarString renders a JSON value as the text analysts see: strings
// unquoted, anything else as JSON.
func scalarString(x *fastjson.Value, a *arena) string {
	if x.Type() == fastjson.TypeString {
		return a.string(x.GetStringBytes())
	}
	start := len(*a)
	*a = x.MarshalTo(*a)
	return a.tail(start)
}
