package forward

import "github.com/defender-intake/defender-intake/internal/normalize"

// AppendQuoted appends s as a JSON string. Invalid UTF-8 bytes become
// U+FFFD, as encoding/json does. It is the normalizer's string writer, so
// that sinks and documents escape text the same way.
func AppendQuoted(dst, s []byte) []byte { return normalize.AppendJSONString(dst, s) }
