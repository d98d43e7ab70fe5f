package capture

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2/ocf"

	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/source"
)

// captureFile encodes events as Event Hubs Capture does (the Capture
// schema, in an Avro object container file with codec).
func captureFile(t testing.TB, codec ocf.CodecName, events []Event) []byte {
	t.Helper()
	var b bytes.Buffer
	enc, err := ocf.NewEncoder(Schema, &b, ocf.WithCodec(codec), ocf.WithBlockLength(7))
	if err != nil {
		t.Fatal(err)
	}
	for i := range events {
		if err := enc.Encode(&events[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// events returns n Capture events, each an Event Hub message holding
// perMsg records (ids "h-<run>-<i>").
func events(n, perMsg int, run string, firstSeq int64) []Event {
	recs := deliverytest.Records(n*perMsg, run)
	out := make([]Event, n)
	for i := range out {
		seq := firstSeq + int64(i)
		out[i] = Event{SequenceNumber: seq, Offset: fmt.Sprint(seq * 1000), EnqueuedTimeUtc: "1/4/2023 2:16:55 PM",
			SystemProperties: map[string]any{"x-opt-enqueued-time": int64(1672841815000)}, Properties: map[string]any{},
			Body: deliverytest.Envelope(recs[i*perMsg : (i+1)*perMsg])}
	}
	return out
}

func writeFile(t testing.TB, root, name string, b []byte) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil { // appear whole, as a blob does
		t.Fatal(err)
	}
}

// emitter collects batches; it acknowledges the first okBatches with nil
// and the rest with an error (a delivery that never happened).
type emitter struct {
	mu        sync.Mutex
	msgs      []pipeline.Message
	batches   int
	okBatches int
}

func (e *emitter) Emit(_ context.Context, b *pipeline.Batch) error {
	e.mu.Lock()
	e.batches++
	ok := e.okBatches < 0 || e.batches <= e.okBatches
	if ok {
		e.msgs = append(e.msgs, b.Messages...)
	}
	e.mu.Unlock()
	if ok {
		b.Ack(nil)
	} else {
		b.Ack(errors.New("not delivered"))
	}
	return nil
}

func newSource(t testing.TB, cfg Config) *Source {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := New("cap", cfg, source.Env{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func localConfig(root, state string) Config {
	c := *DefaultConfig()
	c.Path, c.StatePath, c.BatchMessages = root, state, 10
	return c
}

const hubDir = "ns1/hub1/"

func TestReadCodecsAndOrigin(t *testing.T) {
	for _, codec := range []ocf.CodecName{ocf.Null, ocf.Deflate, ocf.Snappy} {
		t.Run(string(codec), func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, root, hubDir+"0/2023/01/04/14/15/00.avro", captureFile(t, codec, events(25, 2, "a", 100)))
			writeFile(t, root, hubDir+"1/2023/01/04/14/15/00.avro", captureFile(t, codec, events(5, 2, "b", 7)))
			writeFile(t, root, hubDir+"1/2023/01/04/14/16/00.avro", captureFile(t, codec, nil)) // Capture's empty file
			s := newSource(t, localConfig(root, filepath.Join(t.TempDir(), "state.json")))
			e := &emitter{okBatches: -1}
			if err := s.Run(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			if len(e.msgs) != 30 {
				t.Fatalf("%d messages, want 30", len(e.msgs))
			}
			first, last := e.msgs[0], e.msgs[29]
			want := time.Date(2023, 1, 4, 14, 16, 55, 0, time.UTC)
			if o := first.Origin; o.Partition != "0" || o.SequenceNumber != 100 || o.Offset != 100000 || !o.EnqueuedTime.Equal(want) || o.Type != "capture" || o.Stream != hubDir+"0/2023/01/04/14/15/00.avro" {
				t.Errorf("origin %+v", o)
			}
			if last.Origin.Partition != "1" || last.Origin.SequenceNumber != 11 {
				t.Errorf("last origin %+v", last.Origin)
			}
			if !bytes.Contains(first.Body, []byte(`"DeviceName":"h-a-0000000"`)) || !bytes.HasPrefix(first.Body, []byte(`{"records":[`)) {
				t.Errorf("body %.100s", first.Body)
			}
		})
	}
}

// A backfill stopped part way resumes after the last delivered event;
// finished files are not read again.
func TestResume(t *testing.T) {
	root := t.TempDir()
	state := filepath.Join(t.TempDir(), "state.json")
	writeFile(t, root, hubDir+"0/2023/01/04/14/15/00.avro", captureFile(t, ocf.Deflate, events(35, 1, "a", 0)))
	writeFile(t, root, hubDir+"0/2023/01/04/14/16/00.avro", captureFile(t, ocf.Deflate, events(20, 1, "b", 35)))
	cases := []struct {
		name      string
		okBatches int
		wantSeqs  string // first..last sequence numbers delivered
		wantN     int
	}{
		{"first run: 2 batches of 10 delivered", 2, "0..19", 20},
		{"second run: the rest", -1, "20..54", 35},
		{"third run: nothing left", -1, "", 0},
	}
	for _, tc := range cases {
		s := newSource(t, localConfig(root, state))
		e := &emitter{okBatches: tc.okBatches}
		if err := s.Run(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		got := ""
		if len(e.msgs) > 0 {
			got = fmt.Sprintf("%d..%d", e.msgs[0].Origin.SequenceNumber, e.msgs[len(e.msgs)-1].Origin.SequenceNumber)
		}
		if got != tc.wantSeqs || len(e.msgs) != tc.wantN {
			t.Errorf("%s: delivered %s (%d), want %s (%d)", tc.name, got, len(e.msgs), tc.wantSeqs, tc.wantN)
		}
	}
	b, _ := os.ReadFile(state)
	var st map[string]filePos
	json.Unmarshal(b, &st)
	if len(st) != 2 || !st[hubDir+"0/2023/01/04/14/15/00.avro"].Done || st[hubDir+"0/2023/01/04/14/16/00.avro"].Records != 20 {
		t.Errorf("state %s", b)
	}
}

// Unusable input is dead-lettered (a message with DecodeError naming the
// file) and the other files are still read.
func TestBadFiles(t *testing.T) {
	root := t.TempDir()
	good := captureFile(t, ocf.Null, events(10, 1, "g", 0))
	writeFile(t, root, hubDir+"0/2023/01/04/14/15/00.avro", []byte("not avro at all"))
	writeFile(t, root, hubDir+"0/2023/01/04/14/16/00.avro", good[:len(good)-40]) // truncated in its last block
	writeFile(t, root, hubDir+"0/2023/01/04/14/17/00.avro", good)
	s := newSource(t, localConfig(root, filepath.Join(t.TempDir(), "state.json")))
	e := &emitter{okBatches: -1}
	if err := s.Run(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	var bad []string
	okMsgs := 0
	for _, m := range e.msgs {
		if m.DecodeError != "" {
			bad = append(bad, m.DecodeError)
			continue
		}
		okMsgs++
	}
	if len(bad) != 2 || !strings.Contains(bad[0], "14/15/00.avro is not Avro") || !strings.Contains(bad[1], "14/16/00.avro") {
		t.Errorf("dead-letter reasons %q", bad)
	}
	if okMsgs < 10 {
		t.Errorf("%d good messages, want the 10 of the intact file at least", okMsgs)
	}
}

func TestPartitionOf(t *testing.T) {
	cases := []struct{ name, want string }{
		{"ns/hub/3/2023/01/04/14/15/00.avro", "3"},
		{"prefix/ns/hub/12/2023/01/04/14/15/00.avro", "12"},
		{"custom/file.avro", "custom/file.avro"},
		{"ns/hub/x/2023/01/04/14/15/zz/00.avro", "ns/hub/x/2023/01/04/14/15/zz/00.avro"},
	}
	for _, tc := range cases {
		if got := partitionOf(tc.name); got != tc.want {
			t.Errorf("partitionOf(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"path", func(c *Config) { c.Path = "/data/capture" }, ""},
		{"nothing", func(c *Config) {}, "one is required"},
		{"account without container", func(c *Config) { c.StorageAccountURL = "https://acct.blob.core.windows.net" }, "container"},
		{"http account", func(c *Config) { c.StorageAccountURL, c.Container = "http://acct", "c" }, "https"},
		{"both", func(c *Config) { c.Path, c.StorageAccountURL, c.Container = "/x", "https://a", "c" }, "give one"},
		{"zero batch", func(c *Config) { c.Path, c.BatchMessages = "/x", 0 }, "batch_messages"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(c)
			err := c.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want an error about %q", err, tc.want)
			}
		})
	}
}
