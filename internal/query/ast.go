// Package query parses the analysts' search language of the Events page and
// compiles it to a parameterized SQL WHERE fragment for DuckDB.
//
// The language:
//
//	host.name:ws1                 field match (case-insensitive for keywords)
//	process.command_line:"cmd /c" quoted phrase
//	file.name:*.ps1  user.name:adm?n   wildcards
//	process.name:(cmd.exe OR powershell.exe)   grouped values of one field
//	NOT x   -x                    negation
//	a AND b   a b   a OR b   (a OR b) c   boolean logic, implicit AND
//	destination.port:[1 TO 1024]  inclusive range ({} exclusive, * open)
//	@timestamp >= 2024-01-01      comparisons: > >= < <=
//	_exists_:user.name            field present
//	mimikatz  "sekurlsa::logonpasswords"   bare words: whole words of the raw record
//	*katz*  message:katz          inside words of the raw record
//
// Field names never reach the SQL text: they are resolved against a Catalog
// whose SQL expressions are fixed by the program, and every value is bound
// as a parameter.
package query

// Node is one node of a parsed query.
type Node interface{ node() }

// And matches when every child matches.
type And struct{ Nodes []Node }

// Or matches when at least one child matches.
type Or struct{ Nodes []Node }

// Not matches when its child does not (a missing field counts as "does not").
type Not struct{ Node Node }

// Match compares one field (or, with Field empty, the raw record) with a value.
type Match struct {
	// Field is the dotted field name; empty for a bare word or phrase.
	Field string
	// Value is the literal value with escapes resolved.
	Value string
	// Phrase is true for a quoted value: wildcards are literal inside quotes.
	Phrase bool
	// Like is the LIKE pattern ('\' escapes) when Value has unescaped
	// wildcards outside quotes; empty otherwise.
	Like string
	// Pos is the byte offset of the term in the query, for error messages.
	Pos int
	// ValuePos is the byte offset of the value, for errors about the value.
	ValuePos int
}

// Compare is field > value, >=, < or <=.
type Compare struct {
	Field string
	Op    string // one of > >= < <=
	Value string
	Pos   int
}

// Range is field:[lo TO hi] (inclusive) or field:{lo TO hi} (exclusive);
// an open end is "*" and is represented by an empty bound.
type Range struct {
	Field          string
	Lo, Hi         string
	LoIncl, HiIncl bool
	Pos            int
}

// Exists is _exists_:field.
type Exists struct {
	Field string
	Pos   int
}

// All matches every event (the empty query).
type All struct{}

func (And) node()     {}
func (Or) node()      {}
func (Not) node()     {}
func (Match) node()   {}
func (Compare) node() {}
func (Range) node()   {}
func (Exists) node()  {}
func (All) node()     {}
