package clickhouse

import (
	"fmt"
	"strings"
)

// column is an ECS field kept in a typed column, as in the embedded
// store (internal/store's typed columns), so that the same filters are
// cheap in both places.
type column struct {
	Field  string // ECS field
	Name   string // ClickHouse column
	Type   string // ClickHouse type
	number bool   // an integer column
	array  bool   // Array(String)
	keys   []string
}

// columns are the typed columns, in table order after ts, ts_us and
// ingested, and before doc and message. Types are those of ClickHouse
// 18.16 (Debian's) and later alike: no LowCardinality, IPv4/IPv6 or
// DateTime64, which old servers lack.
var columns = []column{
	{Field: "event.dataset", Name: "event_dataset", Type: "String"},
	{Field: "event.category", Name: "event_category", Type: "Array(String)", array: true},
	{Field: "event.action", Name: "event_action", Type: "String"},
	{Field: "action.type", Name: "action_type", Type: "String"},
	{Field: "host.name", Name: "host_name", Type: "String"},
	{Field: "host.id", Name: "host_id", Type: "String"},
	{Field: "user.name", Name: "user_name", Type: "String"},
	{Field: "user.domain", Name: "user_domain", Type: "String"},
	{Field: "process.name", Name: "process_name", Type: "String"},
	{Field: "process.command_line", Name: "process_command_line", Type: "String"},
	{Field: "process.parent.name", Name: "process_parent_name", Type: "String"},
	{Field: "file.name", Name: "file_name", Type: "String"},
	{Field: "file.hash.sha256", Name: "file_hash_sha256", Type: "String"},
	{Field: "registry.key", Name: "registry_key", Type: "String"},
	{Field: "source.ip", Name: "source_ip", Type: "String"},
	{Field: "destination.ip", Name: "destination_ip", Type: "String"},
	{Field: "destination.port", Name: "destination_port", Type: "UInt16", number: true},
	{Field: "url.original", Name: "url_original", Type: "String"},
	{Field: "email.from.address", Name: "email_from_address", Type: "String"},
	{Field: "microsoft.defender.alert.id", Name: "alert_id", Type: "String"},
}

func init() {
	for i := range columns {
		columns[i].keys = strings.Split(columns[i].Field, ".")
	}
}

// createTable returns the CREATE TABLE statement of db.table. Names are
// identifiers checked by Config.Validate and quoted; no value is ever
// part of SQL (rows travel as JSONEachRow data).
func createTable(db, table string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS `%s`.`%s` (\n", db, table)
	b.WriteString("  ts DateTime('UTC'),\n  ts_us Int64,\n  ingested DateTime('UTC'),\n")
	for _, c := range columns {
		fmt.Fprintf(&b, "  %s %s,\n", c.Name, c.Type)
	}
	b.WriteString("  doc String,\n  message String\n)\n")
	// One partition per day: retention is DROP PARTITION, and a query on
	// a time range reads only its days. The sort key serves the usual
	// "this table, this host, this period" query.
	b.WriteString("ENGINE = MergeTree()\nPARTITION BY toYYYYMMDD(ts)\nORDER BY (event_dataset, host_name, ts)")
	return b.String()
}
