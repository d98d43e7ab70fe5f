package kafka

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

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

// A user the brokers' ACLs do not allow to write is an outage of the
// target, said as the HTTP sinks say a 403: every record handed back
// (matching sink.ErrTargetUnavailable), nothing dead-lettered, the gauge
// set and Unavailable failing /readyz; the user's password is not in it.
func TestNotAuthorizedIsAnOutage(t *testing.T) {
	k, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "defender.device_process_events"),
		kfake.EnableACLs(), kfake.EnableSASL(), kfake.User("PLAIN", "svc", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	c := DefaultConfig()
	c.Brokers, c.Timeout, c.MaxAttempts = k.ListenAddrs(), 2*time.Second, 1
	c.SASL = SASL{Mechanism: "PLAIN", Username: "svc", Password: config.NewSecret("s3cret")}
	c.DeadLetter = filepath.Join(t.TempDir(), "dl.ndjson")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := Open("kafka-acl", *c)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	docs := forwardtest.Docs(5, "acl")
	err = s.Write(context.Background(), docs)
	if f := sink.FailedIndices(err, len(docs)); len(f) != len(docs) || !errors.Is(err, sink.ErrTargetUnavailable) {
		t.Fatalf("Write without the right to write = %v, want all 5 handed back, the target unavailable", err)
	}
	if u := s.Unavailable(); u == nil || strings.Contains(u.Error(), "s3cret") {
		t.Errorf("Unavailable() = %v without the right to write", u)
	}
	if g := forwardtest.TargetUnavailable(t, s.Name()); g != 1 {
		t.Errorf("sink_target_unavailable = %v without the right to write, want 1", g)
	}
	if dl := forwardtest.DeadLetters(t, c.DeadLetter); len(dl) != 0 {
		t.Errorf("%d dead-lettered for an authorization error", len(dl))
	}
}

// A topic that does not exist (and may not be created) holds the records
// like a wrong URL: handed back, the target unavailable, nothing
// dead-lettered; once the topic exists they are produced and the target
// is available again.
func TestMissingTopicIsAnOutage(t *testing.T) {
	k, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	c := DefaultConfig()
	c.Brokers, c.Timeout, c.MaxAttempts = k.ListenAddrs(), time.Second, 1
	c.Topic = "defender.missing"
	c.DeadLetter = filepath.Join(t.TempDir(), "dl.ndjson")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := Open("kafka-missing-topic", *c)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	docs := forwardtest.Docs(5, "m")
	err = s.Write(context.Background(), docs)
	if f := sink.FailedIndices(err, len(docs)); len(f) != len(docs) || !errors.Is(err, sink.ErrTargetUnavailable) {
		t.Fatalf("Write to a missing topic = %v, want all 5 handed back, the target unavailable", err)
	}
	if s.Unavailable() == nil || forwardtest.TargetUnavailable(t, s.Name()) != 1 {
		t.Errorf("Unavailable() = %v, gauge %v: the outage is not said", s.Unavailable(), forwardtest.TargetUnavailable(t, s.Name()))
	}
	if dl := forwardtest.DeadLetters(t, c.DeadLetter); len(dl) != 0 {
		t.Errorf("%d dead-lettered for a missing topic", len(dl))
	}
	adm := kadm.NewClient(newClient(t, k))
	if _, err := adm.CreateTopic(context.Background(), 1, 1, nil, c.Topic); err != nil {
		t.Fatal(err)
	}
	// The client learns of the new topic at its next metadata refresh,
	// which can take longer than one 1 s attempt on a busy machine: retry
	// as the pipeline does, a bounded number of times.
	for attempt := 1; ; attempt++ {
		err := s.Write(context.Background(), docs)
		if err == nil {
			break
		}
		if attempt == 10 {
			t.Fatalf("Write once the topic exists, %d attempts: %v", attempt, err)
		}
	}
	if s.Unavailable() != nil || forwardtest.TargetUnavailable(t, s.Name()) != 0 {
		t.Errorf("Unavailable() = %v once the topic exists", s.Unavailable())
	}
}

// newClient is a plain client of k, closed with the test.
func newClient(t *testing.T, k *kfake.Cluster) *kgo.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
