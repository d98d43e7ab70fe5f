package capture

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/hamba/avro/v2/ocf"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/testenv"
)

// devAccountKey is Azurite's documented development key: public, not a
// secret.
const devAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

// azurite returns a connection string to an Azurite blob service: the
// one CI starts on 127.0.0.1:10000 (.ci/setup.d/20-azurite.sh), else one
// started for this test.
func azurite(t *testing.T) string {
	t.Helper()
	cs := func(addr string) string {
		return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;BlobEndpoint=http://%s/devstoreaccount1;", devAccountKey, addr)
	}
	answers := func(addr string) bool {
		c := http.Client{Timeout: time.Second}
		resp, err := c.Get("http://" + addr + "/devstoreaccount1?comp=list")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}
	if answers("127.0.0.1:10000") {
		return cs("127.0.0.1:10000")
	}
	bin := testenv.LookPath(t, "azurite-blob", "npm install -g azurite")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	ln.Close()
	cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", port, "--location", t.TempDir(), "--silent", "--skipApiVersionCheck", "--loose", "--disableTelemetry")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for start := time.Now(); !answers(addr); time.Sleep(100 * time.Millisecond) {
		if time.Since(start) > 30*time.Second {
			t.Fatal("azurite did not answer within 30s")
		}
	}
	return cs(addr)
}

func TestBlobContainer(t *testing.T) {
	cs := azurite(t)
	name := fmt.Sprintf("capture-%d", time.Now().UnixNano())
	cc, err := container.NewClientFromConnectionString(cs, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cc.Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	defer cc.Delete(ctx, nil)
	upload := func(blob string, b []byte) {
		if _, err := cc.NewBlockBlobClient(blob).UploadBuffer(ctx, b, nil); err != nil {
			t.Fatal(err)
		}
	}
	upload("ns1/hub1/0/2023/01/04/14/15/00.avro", captureFile(t, ocf.Deflate, events(30, 2, "a", 0)))
	upload("ns1/hub1/1/2023/01/04/14/15/00.avro", captureFile(t, ocf.Null, events(12, 1, "b", 0)))
	upload("ns1/hub1/readme.txt", []byte("not a capture file"))
	upload("ns1/other/0/2023/01/04/14/15/00.avro", captureFile(t, ocf.Null, events(5, 1, "c", 0)))

	cases := []struct {
		name string
		want int
	}{{"first run reads both files of the prefix", 42}, {"second run: all done", 0}}
	state := filepath.Join(t.TempDir(), "state.json")
	for _, tc := range cases {
		c := *DefaultConfig()
		c.StorageConnectionString, c.Container, c.Prefix, c.StatePath = config.NewSecret(cs), name, "ns1/hub1/", state
		s := newSource(t, c)
		e := &emitter{okBatches: -1}
		if err := s.Run(ctx, e); err != nil {
			t.Fatal(err)
		}
		if len(e.msgs) != tc.want {
			t.Errorf("%s: %d messages, want %d", tc.name, len(e.msgs), tc.want)
		}
		for _, m := range e.msgs {
			if m.DecodeError != "" || m.Origin.Stream[:9] != "ns1/hub1/" {
				t.Errorf("%s: message from %s: %s", tc.name, m.Origin.Stream, m.DecodeError)
			}
		}
	}
}
