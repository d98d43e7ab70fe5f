// Package examples ships the sample Defender XDR export
// (defender-sample.ndjson) inside the binary, so `defender-intake demo`
// works from any directory without an Azure account.
package examples

import _ "embed"

// DefenderSample is defender-sample.ndjson: made-up streaming-export lines
// covering every Advanced Hunting table the sample story uses (see
// README.md in this directory).
//
//go:embed defender-sample.ndjson
var DefenderSample []byte
