package deliverytest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/defender-intake/defender-intake/internal/testenv"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// Binary builds cmd/defender-intake once per test process and returns its
// path: the suite runs the real binary, as users do.
func Binary(t testing.TB) string {
	t.Helper()
	goTool := testenv.LookPath(t, "go", "install Go")
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..", "..")
		dir, err := os.MkdirTemp("", "defender-intake-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "defender-intake")
		cmd := exec.Command(goTool, "build", "-o", binPath, "./cmd/defender-intake")
		cmd.Dir = root
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("build defender-intake: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

// WriteConfig writes a service config for one source and its sink
// entries, with small queues so that "in flight" stays small, and returns
// its path.
func WriteConfig(t testing.TB, dir string, src map[string]any, snks ...map[string]any) string {
	t.Helper()
	sinks := make([]any, len(snks))
	for i, s := range snks {
		sinks[i] = s
	}
	cfg := map[string]any{
		"server":      map[string]any{"listen": ""},
		"log":         map[string]any{"level": "warn"},
		"pipeline":    map[string]any{"workers": Workers, "queue_batches": QueueBatches, "retry_initial": "10ms", "retry_max": "200ms", "drain_timeout": "20s"},
		"dead_letter": map[string]any{"path": filepath.Join(dir, "dead-letter.ndjson")},
		"sources":     []any{src},
		"sinks":       sinks,
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Pipeline sizes used by the suite's configs; the in-flight window (and so
// the duplicate bound after a kill) follows from them.
const (
	Workers      = 2
	QueueBatches = 2
)

// Service is a running defender-intake process. Its standard output is
// appended to DIR/stdout.ndjson and its standard error to DIR/stderr.log.
type Service struct {
	t    testing.TB
	cmd  *exec.Cmd
	done chan error
	dir  string
	// exited is closed when the process ends, for waits that must not
	// poll a dead service until their timeout.
	exited chan struct{}
}

// Start runs `defender-intake run --config cfg` with files in dir.
func Start(t testing.TB, dir, cfg string) *Service {
	t.Helper()
	bin := Binary(t)
	outPath := filepath.Join(dir, "stdout.ndjson")
	out, err := os.OpenFile(outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	// A process killed mid-line leaves a torn line on its standard
	// output; a line-oriented reader (like this suite) ends it there.
	if b, err := os.ReadFile(outPath); err == nil && len(b) > 0 && b[len(b)-1] != '\n' {
		out.Write([]byte{'\n'})
	}
	errf, err := os.OpenFile(filepath.Join(dir, "stderr.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Stdout, cmd.Stderr = out, errf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &Service{t: t, cmd: cmd, done: make(chan error, 1), dir: dir, exited: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		close(s.exited)
		s.done <- err
		out.Close()
		errf.Close()
	}()
	t.Cleanup(func() {
		select {
		case err := <-s.done:
			s.done <- err
		default:
			cmd.Process.Kill()
		}
	})
	return s
}

// Kill sends SIGKILL and waits for the process to die.
func (s *Service) Kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// Stop sends SIGTERM and waits; it fails the test unless the process
// exits 0 within timeout.
func (s *Service) Stop(timeout time.Duration) {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.Wait(timeout)
}

// Wait waits for the process to exit by itself and fails the test unless
// it exits 0 within timeout.
func (s *Service) Wait(timeout time.Duration) {
	s.t.Helper()
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Fatalf("defender-intake exited: %v\n%s", err, s.Stderr())
		}
	case <-time.After(timeout):
		s.cmd.Process.Kill()
		<-s.done
		s.t.Fatalf("defender-intake did not exit within %s\n%s", timeout, s.Stderr())
	}
}

// PeakRSS returns the process's peak resident memory (VmHWM) in bytes.
func (s *Service) PeakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// Exited is closed when the process has ended.
func (s *Service) Exited() <-chan struct{} { return s.exited }

// Stderr returns the log written so far.
func (s *Service) Stderr() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "stderr.log"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err.Error()
	}
	return string(b)
}
