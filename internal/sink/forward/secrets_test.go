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

// The password of a URL's user information is sent as Basic
// authorization: an answer repeating either is redacted.
func TestSecretsWithURL(t *testing.T) {
	ss := NewSecrets("", "", "key-1").WithURL("https://svc:url-pass-3@es.example:9200")
	for _, answer := range []string{"url-pass-3", "Authorization: Basic c3ZjOnVybC1wYXNzLTM="} {
		if got := ss.Redact(answer); strings.Contains(got, "url-pass-3") || strings.Contains(got, "c3ZjOnVybC1wYXNzLTM") {
			t.Errorf("Redact(%q) = %q", answer, got)
		}
	}
	if got := NewSecrets("", "", "key-1").WithURL("https://es.example:9200"); len(got) != len(NewSecrets("", "", "key-1")) {
		t.Errorf("a URL without a password added secrets: %q", got)
	}
}
