// Package httpguard holds the one exposure rule for every HTTP endpoint of
// defender-intake that serves or accepts event data (the Events page and
// its API under `serve`, `demo` and `run`, the alerts API, the http
// source):
//
//   - bound to loopback, no token is needed, but a server without a token
//     answers only requests whose Host header names loopback (localhost,
//     127.0.0.1, [::1]) with the port they came in on, so that a web page
//     elsewhere cannot reach it through DNS rebinding;
//   - bound to anything else, a bearer token is required, and configurations
//     and flags that would serve data off loopback without one are refused
//     before anything listens.
//
// Bearer tokens are read with a case-insensitive scheme (RFC 7235) and
// compared in constant time.
package httpguard

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// TokenEnv is the environment variable holding the API token of the
// Events page and its API, for `serve`, `demo` and `run`.
const TokenEnv = "DEFENDER_INTAKE_WEB_TOKEN"

// IsLoopback reports whether listen (host:port, as given to net.Listen)
// binds loopback only: localhost or a loopback address. An empty host
// (":8080"), 0.0.0.0, :: or any other address is not loopback.
func IsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		host = strings.Trim(listen, "[]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RequireToken is the exposure rule: it returns an error when listen is not
// loopback and no token is set. setToken says how to set one (a flag or a
// configuration key), for the message.
func RequireToken(listen string, tokenSet bool, setToken string) error {
	if tokenSet || IsLoopback(listen) {
		return nil
	}
	return fmt.Errorf("%s is not a loopback address and no token is set: anyone who can reach it could read or send events; set a token (%s) or listen on 127.0.0.1", listen, setToken)
}

// BearerToken returns the token of an Authorization header whose scheme
// is Bearer, in any case.
func BearerToken(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// Authorized reports whether the Authorization header carries token. Both
// sides are hashed before the constant-time compare, so that neither the
// token's content nor its length leaks through timing.
func Authorized(header, token string) bool {
	got, ok := BearerToken(header)
	if !ok || token == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// LocalOnly refuses, for a server without a token, every request that did
// not come in on a loopback address (403: the rule is that off loopback a
// token is required, whatever the configuration let through), whose Host
// header does not name loopback with the port the request came in on (421:
// DNS rebinding, a page of another site sending its visitors' browsers
// here), or whose Origin is another site (403: a page elsewhere calling
// 127.0.0.1 directly). Requests with no local address (in-process calls) are only
// checked for the Host.
func LocalOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		port := ""
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			host, p, err := net.SplitHostPort(a.String())
			if err != nil || !IsLoopback(net.JoinHostPort(host, p)) {
				refuse(w, http.StatusForbidden, "this server has no token: it answers on loopback only (set a token to expose it)")
				return
			}
			port = p
		}
		if !LoopbackHost(r.Host, port) {
			refuse(w, http.StatusMisdirectedRequest, "Host "+strconv.Quote(r.Host)+" is not this server: open it as http://127.0.0.1 or http://localhost with its port")
			return
		}
		if cross, why := CrossSite(r, port); cross {
			refuse(w, http.StatusForbidden, why+" and answers its own page only")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// CrossSite reports, for a server without a token, whether r was sent by
// a browser on behalf of a page that is not this server: an Origin that is
// not loopback with port (another site, or a rebound name), or a
// Sec-Fetch-Site saying the page is of another site. A plain cross-site
// POST needs no CORS preflight, so without this any page a user visits
// could push into a local server. Clients that are not browsers (log
// shippers, curl) send neither header and are not affected; port is the
// port the request came in on ("" when unknown).
func CrossSite(r *http.Request, port string) (bool, string) {
	if o := r.Header.Get("Origin"); o != "" && !loopbackOrigin(o, port) {
		return true, "cross-site request from " + strconv.Quote(o) + " refused: this server has no token"
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return true, "cross-site request (Sec-Fetch-Site) refused: this server has no token"
	}
	return false, ""
}

// LocalPort returns the port r came in on, "" when r has no local
// address (an in-process call).
func LocalPort(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, p, err := net.SplitHostPort(a.String()); err == nil {
			return p
		}
	}
	return ""
}

// loopbackOrigin reports whether an Origin header is a page of this
// server (loopback with port), not of another site.
func loopbackOrigin(origin, port string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false // includes "null" (sandboxed or file pages)
	}
	return LoopbackHost(u.Host, port)
}

// LoopbackHost reports whether a Host header names loopback: localhost,
// 127.0.0.1 or [::1], with port when it is not empty (without a port only
// when port is 80 or unknown).
func LoopbackHost(hostHeader, port string) bool {
	host, p, err := net.SplitHostPort(hostHeader)
	if err != nil {
		host, p = strings.TrimSuffix(strings.TrimPrefix(hostHeader, "["), "]"), "80"
		if port == "" {
			p = ""
		}
	}
	switch strings.ToLower(host) {
	case "localhost", "127.0.0.1", "::1":
	default:
		return false
	}
	return port == "" || p == port
}

func refuse(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Write(append(b, '\n'))
}
