package forward

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
)

// Secrets are the credentials a sink's requests carry, in every form a
// target could repeat them in its answer.
type Secrets []string

// NewSecrets lists the non-empty values of secrets, each also as it is
// written in a JSON string and in a URL query, and, when user and
// password are given, the Basic authorization token of the pair.
func NewSecrets(user, password string, secrets ...string) Secrets {
	var out Secrets
	add := func(v string) {
		// Very short values would blank out ordinary words of the answer.
		if len(v) >= 4 {
			out = append(out, v)
		}
	}
	for _, v := range append(secrets, password) {
		if v == "" {
			continue
		}
		add(v)
		q, _ := json.Marshal(v)
		add(string(q[1 : len(q)-1]))
		add(url.QueryEscape(v))
	}
	if password != "" {
		add(base64.StdEncoding.EncodeToString([]byte(user + ":" + password)))
	}
	return out
}

// Redact replaces every secret in s.
func (ss Secrets) Redact(s string) string {
	for _, v := range ss {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
	}
	return s
}

// WithURL adds the password of a URL's user information (which the
// client sends as Basic authorization) to ss.
func (ss Secrets) WithURL(raw string) Secrets {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return ss
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" {
		return ss
	}
	return append(ss, NewSecrets(u.User.Username(), pw)...)
}
