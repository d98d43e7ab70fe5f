// Package forwardtest has helpers for the forwarding sinks' tests:
// documents shaped like the normalizer's output, and a reader of
// dead-letter files.
package forwardtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/sink"
)

// Docs returns n ECS-like documents whose host.name is "<prefix>-<i>" and
// whose message holds a raw record with DeviceName "<prefix>-<i>".
func Docs(n int, prefix string) []sink.Doc {
	out := make([]sink.Doc, n)
	ts := time.Date(2023, 1, 4, 14, 16, 55, 504116000, time.UTC)
	for i := range out {
		id := fmt.Sprintf("%s-%d", prefix, i)
		raw := fmt.Sprintf(`{"time":"2023-01-04T14:16:55.5041166Z","category":"AdvancedHunting-DeviceProcessEvents","properties":{"DeviceName":%q,"ReportId":%d}}`, id, i)
		msg, _ := json.Marshal(raw)
		doc := fmt.Sprintf(`{"@timestamp":"2023-01-04T14:16:55.504116Z","event":{"dataset":"device_process_events"},"host":{"name":%q},"user":{"name":"alice"},"process":{"command_line":"cmd /c whoami","name":"cmd.exe","pid":%d},"source":{"ip":"10.0.0.1","port":%d},"destination":{"ip":"1.2.3.4","port":443},"message":%s,"defender_intake":{"origin":{"source":"hub","type":"eventhub","partition":"3","offset":%d,"sequence_number":%d}}}`, id, 1000+i, 40000+i%20000, msg, i*10, i)
		out[i] = sink.Doc{JSON: []byte(doc), Dataset: "device_process_events", Timestamp: ts}
	}
	return out
}

// DeadLetters reads a dead-letter file as JSON objects (none when absent).
func DeadLetters(t testing.TB, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("dead-letter line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}
