package clickhouse

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/testenv"
)

// A real ClickHouse server (Debian's clickhouse-server) is started once
// for the package's tests, on 127.0.0.1 with free ports and a data
// directory of its own, and stopped by TestMain.
var (
	serverOnce sync.Once
	serverURL  string
	serverErr  error
	serverCmd  *exec.Cmd
	serverDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if serverCmd != nil {
		serverCmd.Process.Kill()
		serverCmd.Wait()
	}
	if serverDir != "" {
		os.RemoveAll(serverDir)
	}
	os.Exit(code)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

const serverConfig = `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>%[1]s/server.log</log><errorlog>%[1]s/server.err.log</errorlog><console>0</console></logger>
  <http_port>%[2]d</http_port>
  <tcp_port>%[3]d</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/user_files/</user_files_path>
  <format_schema_path>%[1]s/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709120</mark_cache_size>
  <max_concurrent_queries>50</max_concurrent_queries>
</yandex>
`

const usersConfig = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`

// server returns the HTTP URL of the test server, starting it once.
// CLICKHOUSE_URL, when set, names a server to use instead.
func server(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("CLICKHOUSE_URL"); u != "" {
		return u
	}
	bin := testenv.LookPath(t, "clickhouse-server", "apt-get install clickhouse-server")
	serverOnce.Do(func() {
		serverURL, serverErr = start(bin)
	})
	if serverErr != nil {
		t.Fatalf("start clickhouse-server: %v", serverErr)
	}
	return serverURL
}

func start(bin string) (string, error) {
	dir, err := os.MkdirTemp("", "clickhouse-test-")
	if err != nil {
		return "", err
	}
	serverDir = dir
	httpPort, err := freePort()
	if err != nil {
		return "", err
	}
	tcpPort, err := freePort()
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), fmt.Appendf(nil, serverConfig, dir, httpPort, tcpPort), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(usersConfig), 0o600); err != nil {
		return "", err
	}
	cmd := exec.Command(bin, "--config-file="+filepath.Join(dir, "config.xml"))
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		return "", err
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Dies with the test process even when TestMain's cleanup does not
	// run (a panic, a timeout).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	serverCmd = cmd
	u := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(u + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return u, nil
			}
		}
	}
	log, _ := os.ReadFile(filepath.Join(dir, "server.err.log"))
	return "", fmt.Errorf("no answer on %s within 60s; error log:\n%s", u, log)
}
