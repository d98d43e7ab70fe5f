// Package sigma loads, compiles and evaluates Sigma detection rules
// (specification v2) against events.
//
// The engine is pure: it knows nothing of files' origin, sources, sinks or
// HTTP. Rules are compiled once (values lowercased once, regular
// expressions compiled at load, literal prefilters through one
// Aho-Corasick automaton per table and field) and indexed by the tables
// their logsource applies to, so an event only meets the rules of its
// table. A construct the engine does not support makes the rule load as
// skipped with a reason: a rule is never silently mis-evaluated.
//
// Field names are resolved through a Mapper (see package fieldmap for the
// Defender mapping), and events are read through the Event interface.
package sigma
