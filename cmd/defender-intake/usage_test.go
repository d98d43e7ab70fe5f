package main

import (
	"bytes"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// Every command, and every subcommand of rules and config, answers -h and
// --help with its usage on stdout, in the one format, and status 0; a
// bool flag is shown without a value.
func TestHelpEveryCommand(t *testing.T) {
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	names = append(names, "rules check", "rules test", "config check")
	sort.Strings(names)
	boolWithValue := regexp.MustCompile(`(?m)^  --(keep|quiet|force|pretty|stats|json|strict|no-builtin|original-times) \S`)
	for _, name := range names {
		for _, h := range []string{"-h", "--help"} {
			t.Run(name+" "+h, func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				args := append(strings.Fields(name), h)
				if code := dispatch(args, strings.NewReader(""), &stdout, &stderr); code != 0 {
					t.Errorf("exit %d, want 0; stderr:\n%s", code, stderr.String())
				}
				out := stdout.String()
				if !strings.HasPrefix(out, "usage: defender-intake "+strings.Fields(name)[0]) {
					t.Errorf("stdout does not start with the usage line:\n%s", out)
				}
				if stderr.Len() != 0 {
					t.Errorf("stderr not empty:\n%s", stderr.String())
				}
				if strings.Contains(out, "Usage of") || regexp.MustCompile(`(?m)^  -[a-z]`).MatchString(out) {
					t.Errorf("Go's default flag format instead of the binary's:\n%s", out)
				}
				if m := boolWithValue.FindString(out); m != "" {
					t.Errorf("bool flag shown with a value: %q\n%s", m, out)
				}
			})
		}
	}
	var stdout, stderr bytes.Buffer
	dispatch([]string{"demo", "-h"}, nil, &stdout, &stderr)
	if !regexp.MustCompile(`(?m)^  --keep$`).MatchString(stdout.String()) {
		t.Errorf("demo -h: no bare --keep line:\n%s", stdout.String())
	}
}

// A flag error goes to stderr with the usage, status 2.
func TestFlagErrorUsage(t *testing.T) {
	for _, name := range []string{"run", "serve", "search", "ingest", "normalize", "estimate", "demo", "rules check", "rules test", "config check"} {
		var stdout, stderr bytes.Buffer
		if code := dispatch(append(strings.Fields(name), "--no-such-flag"), strings.NewReader(""), &stdout, &stderr); code != 2 {
			t.Errorf("%s: exit %d, want 2", name, code)
		}
		if stdout.Len() != 0 || !strings.Contains(stderr.String(), "no-such-flag") || !strings.Contains(stderr.String(), "usage: defender-intake") {
			t.Errorf("%s: stdout %q stderr %q", name, stdout.String(), stderr.String())
		}
	}
}
