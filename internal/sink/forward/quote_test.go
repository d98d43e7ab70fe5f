package forward

import (
	"encoding/json"
	"testing"
)

// AppendQuoted must produce JSON that decodes to the same text as
// encoding/json reads it (invalid UTF-8 becoming U+FFFD in both).
func TestAppendQuoted(t *testing.T) {
	cases := []string{
		"", "plain", `quote " and backslash \ `, "C:\\Windows\\System32\\cmd.exe", "tab\tnew\nline\rcr",
		"\x00\x01\x1f\x7f", "é 日本 😀", "bad \xff\xfe utf8", "\xe2\x28\xa1", "mixed ok é then \x80",
	}
	for _, in := range cases {
		out := AppendQuoted(nil, []byte(in))
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Errorf("AppendQuoted(%q) = %s: not JSON: %v", in, out, err)
			continue
		}
		want, _ := json.Marshal(in)
		var wantS string
		json.Unmarshal(want, &wantS)
		if got != wantS {
			t.Errorf("AppendQuoted(%q) decodes to %q, want %q", in, got, wantS)
		}
	}
}
