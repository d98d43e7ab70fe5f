package testenv

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"testing"
	"time"
)

// azuriteKey is Azurite's documented development account key: public, not
// a secret.
const azuriteKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

// Azurite returns a storage connection string for an Azurite blob
// service: the one on 127.0.0.1:10000 when it runs (CI starts it in
// .ci/setup.d/20-azurite.sh), else one started for this test and stopped
// after it. Without azurite-blob installed the test is skipped (failed in
// CI).
func Azurite(t testing.TB) string {
	t.Helper()
	cs := func(addr string) string {
		return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;BlobEndpoint=http://%s/devstoreaccount1;", azuriteKey, addr)
	}
	if azuriteAnswers("127.0.0.1:10000") {
		return cs("127.0.0.1:10000")
	}
	bin := LookPath(t, "azurite-blob", "npm install -g azurite")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	ln.Close()
	cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", port, "--location", t.TempDir(),
		"--silent", "--skipApiVersionCheck", "--loose", "--disableTelemetry")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for start := time.Now(); !azuriteAnswers(addr); time.Sleep(100 * time.Millisecond) {
		if time.Since(start) > 30*time.Second {
			t.Fatal("azurite did not answer within 30s")
		}
	}
	return cs(addr)
}

func azuriteAnswers(addr string) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + addr + "/devstoreaccount1?comp=list")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}
