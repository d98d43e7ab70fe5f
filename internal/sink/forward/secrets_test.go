package forward

import (
	"strings"
	"testing"
)

// A secret is redacted in every form a target could repeat it in.
func TestSecretsRedact(t *testing.T) {
	ss := NewSecrets("user", `pa"ss/w0rd`, "key-1", "", "k")
	for _, answer := range []string{
		`pa"ss/w0rd`,
		`{"password":"pa\"ss/w0rd"}`,
		`?password=pa%22ss%2Fw0rd`,
		`Authorization: Basic dXNlcjpwYSJzcy93MHJk`,
		`{"intake_key":"key-1"}`,
	} {
		got := ss.Redact(answer)
		if !strings.Contains(got, "[REDACTED]") || strings.Contains(got, "key-1") || strings.Contains(got, "w0rd") || strings.Contains(got, "dXNlcjpw") {
			t.Errorf("Redact(%q) = %q", answer, got)
		}
	}
	// Empty and very short values are not secrets worth blanking words for.
	if got := ss.Redact("ok, keep this"); got != "ok, keep this" {
		t.Errorf("Redact changed an answer without secrets: %q", got)
	}
}
