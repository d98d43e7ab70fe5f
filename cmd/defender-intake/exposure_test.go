package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/defender-intake/defender-intake/internal/web"
)

// One exposure rule for every way event data is served: off loopback, a
// token is required, and `config check` refuses the config without one,
// naming the file, line and key; serve and demo flag errors name the flag.
func TestExposureRule(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tokenFile := write("token", "s3cret\n")
	emptyToken := write("empty-token", "\n")
	store := filepath.Join(dir, "store")
	source := "sources:\n  - {name: f, type: file, paths: [/tmp/x]}\n"
	exposedStore := write("exposed.yaml", "server:\n  listen: 0.0.0.0:9464\n"+source+"sinks:\n  - {name: events, type: store, dir: "+store+"}\n")
	exposedDetection := write("detection.yaml", "server:\n  listen: \":9464\"\n"+source+"sinks:\n  - {name: detection, type: detection, store: "+store+"}\n")
	withToken := write("token.yaml", "server:\n  listen: 0.0.0.0:9464\n  token: {file: "+tokenFile+"}\n"+source+"sinks:\n  - {name: events, type: store, dir: "+store+"}\n")
	metricsOnly := write("metrics.yaml", "server:\n  listen: 0.0.0.0:9464\n"+source+"sinks:\n  - {type: stdout}\n")
	loopback := write("loopback.yaml", "server:\n  listen: 127.0.0.1:9464\n"+source+"sinks:\n  - {name: events, type: store, dir: "+store+"}\n")
	httpSource := write("http.yaml", "sources:\n  - name: push\n    type: http\n    listen: 0.0.0.0:8514\nsinks:\n  - {type: stdout}\n")

	tests := []struct {
		name string
		args []string
		env  string // DEFENDER_INTAKE_WEB_TOKEN
		code int
		want string
	}{
		{"run: store sink on 0.0.0.0 without token", []string{"config", "check", exposedStore}, "", 1,
			"exposed.yaml:2: server.listen: the Events page and its API (store/detection sink): 0.0.0.0:9464 is not a loopback address and no token is set"},
		{"run: detection sink on all interfaces without token", []string{"config", "check", exposedDetection}, "", 1, "detection.yaml:2: server.listen:"},
		{"run: the token in the environment", []string{"config", "check", exposedStore}, "s3cret", 0, "OK"},
		{"run: server.token", []string{"config", "check", withToken}, "", 0, "OK"},
		{"run: metrics only may be exposed", []string{"config", "check", metricsOnly}, "", 0, "OK"},
		{"run: loopback", []string{"config", "check", loopback}, "", 0, "OK"},
		{"http source off loopback without token", []string{"config", "check", httpSource}, "", 1,
			`http.yaml:2: source "push" (http): listen: 0.0.0.0:8514 is not a loopback address and no token is set`},
		{"serve: missing token file names the flag", []string{"serve", "--data", dir, "--token-file", filepath.Join(dir, "nope")}, "", 2, "serve: --token-file: open "},
		{"serve: empty token file names the flag", []string{"serve", "--data", dir, "--token-file", emptyToken}, "", 2, "serve: --token-file: " + emptyToken + " is empty"},
		{"serve: exposed without token names the flag", []string{"serve", "--data", dir, "--listen", "0.0.0.0:0"}, "", 2, "set a token (--token-file FILE or $" + web.TokenEnv + ")"},
		{"demo: exposed without token names the flag", []string{"demo", "--listen", "0.0.0.0:0"}, "", 2, "set a token (--token-file FILE"},
		{"demo: missing token file names the flag", []string{"demo", "--token-file", filepath.Join(dir, "nope")}, "", 2, "demo: --token-file: open "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(web.TokenEnv, tc.env)
			var out, errb strings.Builder
			code := dispatch(tc.args, nil, &out, &errb)
			if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.want) {
				t.Errorf("exit %d\nstdout: %s\nstderr: %s\nwant exit %d and %q", code, out.String(), errb.String(), tc.code, tc.want)
			}
			if strings.Contains(out.String()+errb.String(), "s3cret") {
				t.Error("the token is printed")
			}
		})
	}
}
