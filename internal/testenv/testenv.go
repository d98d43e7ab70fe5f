// Package testenv lets tests that need an external program (a server, a
// browser) skip on a developer's fresh clone and fail loudly in CI, where
// .ci/run installs everything.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// InCI reports whether the tests run under .ci/run (CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }

// LookPath returns the path of program, or skips the test (fails it in CI)
// when it is not installed. hint tells a developer how to get it.
func LookPath(t testing.TB, program, hint string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err == nil {
		return p
	}
	Missing(t, program+" not found on PATH ("+hint+")")
	return ""
}

// Missing skips the test with reason, or fails it when running in CI,
// because CI is expected to provide every dependency.
func Missing(t testing.TB, reason string) {
	t.Helper()
	if InCI() {
		t.Fatalf("required in CI: %s", reason)
	}
	t.Skip(reason)
}

// SharedDir returns the path of ../shared/<rel> beside the repository, or
// skips the test when it is absent (a user's fresh clone has no ../shared).
// In CI it is always present, so its absence there fails the test.
func SharedDir(t testing.TB, rel string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared")
	p := filepath.Join(root, rel)
	if _, err := os.Stat(p); err != nil {
		Missing(t, "../shared/"+rel+" is absent")
	}
	return p
}
