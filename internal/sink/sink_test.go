package sink

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

type nopSink struct{ name string }

func (n nopSink) Name() string                       { return n.name }
func (n nopSink) Write(context.Context, []Doc) error { return nil }
func (n nopSink) Close() error                       { return nil }

func TestOpenSink(t *testing.T) {
	reg := prometheus.NewRegistry()
	var gotEnv Env
	tests := []struct {
		name string
		f    Factory
		want string
	}{
		{name: "Open only", f: Factory{Open: func(n string, _ Section) (Sink, error) { return nopSink{"open:" + n}, nil }}, want: "open:x"},
		{name: "OpenEnv wins", f: Factory{
			Open:    func(n string, _ Section) (Sink, error) { return nopSink{"open:" + n}, nil },
			OpenEnv: func(n string, _ Section, env Env) (Sink, error) { gotEnv = env; return nopSink{"env:" + n}, nil },
		}, want: "env:x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.f.OpenSink("x", nil, Env{Registerer: reg})
			if err != nil || s.Name() != tc.want {
				t.Fatalf("%v %v, want %s", s, err, tc.want)
			}
		})
	}
	if gotEnv.Registerer != reg {
		t.Error("OpenEnv did not get the registry")
	}
}

func TestFailedIndices(t *testing.T) {
	tests := []struct {
		err  error
		n    int
		want string
	}{
		{nil, 3, "[]"},
		{errors.New("down"), 3, "[0 1 2]"},
		{&PartialError{Failed: []int{1}, Err: errors.New("bad")}, 3, "[1]"},
		{fmt.Errorf("wrapped: %w", &PartialError{Failed: []int{0, 2}}), 3, "[0 2]"},
	}
	for _, tc := range tests {
		if got := fmt.Sprint(FailedIndices(tc.err, tc.n)); got != tc.want {
			t.Errorf("FailedIndices(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}
