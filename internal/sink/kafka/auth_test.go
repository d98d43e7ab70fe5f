package kafka

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/sink"
	"github.com/defender-intake/defender-intake/internal/sink/forward/forwardtest"
)

// SASL against a cluster that requires it: the right credentials
// produce, wrong ones hand every record back (nothing is dead-lettered).
func TestSASL(t *testing.T) {
	cases := []struct {
		mechanism, user, pass string
		ok                    bool
	}{
		{"PLAIN", "svc", "s3cret", true},
		{"SCRAM-SHA-256", "svc", "s3cret", true},
		{"SCRAM-SHA-512", "svc", "s3cret", true},
		{"SCRAM-SHA-512", "svc", "wrong", false},
	}
	for _, tc := range cases {
		t.Run(tc.mechanism+"/"+tc.pass, func(t *testing.T) {
			k, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "defender.device_process_events"),
				kfake.EnableSASL(), kfake.Superuser(tc.mechanism, "svc", "s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			c := DefaultConfig()
			c.Brokers, c.Timeout, c.MaxAttempts = k.ListenAddrs(), 2*time.Second, 1
			c.SASL = SASL{Mechanism: tc.mechanism, Username: tc.user, Password: config.NewSecret(tc.pass)}
			c.DeadLetter = filepath.Join(t.TempDir(), "dl.ndjson")
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			s, err := Open("kafka-sasl", *c)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			docs := forwardtest.Docs(5, "s")
			err = s.Write(context.Background(), docs)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if recs := consumeAs(t, k, tc.mechanism, "defender.device_process_events", 5); len(recs) != 5 {
					t.Errorf("%d records", len(recs))
				}
				return
			}
			if f := sink.FailedIndices(err, len(docs)); len(f) != 5 || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Write with a wrong password = %v, want all 5 handed back", err)
			}
			if dl := forwardtest.DeadLetters(t, c.DeadLetter); len(dl) != 0 {
				t.Errorf("%d dead-lettered on an authentication error", len(dl))
			}
		})
	}
}
