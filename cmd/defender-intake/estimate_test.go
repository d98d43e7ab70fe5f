package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
)

// The live mode measures a Kafka topic (kfake) with the group given by
// --group and commits nothing, so the service's position is untouched.
func TestEstimateLiveKafka(t *testing.T) {
	k, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "defender"))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.ListenAddrs()...), kgo.DefaultProduceTopic("defender"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := deliverytest.Records(200, "live")
	for i := 0; i < 20; i++ {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: deliverytest.Envelope(recs[i*10 : (i+1)*10])}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	y := fmt.Sprintf("sources:\n  - {name: k, type: kafka, brokers: [%s], topics: [defender], group: service}\nsinks:\n  - {type: stdout}\n", k.ListenAddrs()[0])
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := dispatch([]string{"estimate", "--config", cfg, "--group", "sizing", "--duration", "4s"}, strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"AdvancedHunting-DeviceProcessEvents", "200", "Event Hub events/s", "throughput units: 1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	adm := kadm.NewClient(cl)
	for _, g := range []string{"sizing", "service"} {
		offs, err := adm.FetchOffsets(context.Background(), g)
		if err != nil {
			continue
		}
		offs.Each(func(o kadm.OffsetResponse) {
			if o.At > 0 {
				t.Errorf("group %s committed %s/%d at %d: estimate must not consume", g, o.Topic, o.Partition, o.At)
			}
		})
	}
}
