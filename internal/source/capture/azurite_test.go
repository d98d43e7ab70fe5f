package capture

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/hamba/avro/v2/ocf"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/testenv"
)

// azurite returns a connection string to an Azurite blob service.
func azurite(t *testing.T) string { return testenv.Azurite(t) }

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
