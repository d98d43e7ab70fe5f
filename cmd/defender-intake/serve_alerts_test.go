package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/defender-intake/defender-intake/internal/store"
)

// serve --alerts names an alert file that must exist: a typo is an error at
// start, not an Alerts view that says the server has no alerts.
func TestServeAlertsFlag(t *testing.T) {
	data := t.TempDir()
	st, err := store.Open(context.Background(), store.Config{Dir: data}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	missing := filepath.Join(t.TempDir(), "alerts.ndjson")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"--alerts", missing}, "serve: --alerts: stat " + missing},
		{"empty name", []string{"--alerts", ""}, "empty file name"},
		{"second one missing", []string{"--alerts", filepath.Join(data, store.FileName), "--alerts", missing}, "serve: --alerts: stat " + missing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := dispatch(append([]string{"serve", "--data", data, "--listen", "127.0.0.1:0"}, tt.args...), nil, &out, &errb)
			if code != 2 || !strings.Contains(errb.String(), tt.want) {
				t.Errorf("code %d, stderr %q; want 2 and %q", code, errb.String(), tt.want)
			}
		})
	}
}
