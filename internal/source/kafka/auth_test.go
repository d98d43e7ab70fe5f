package kafka_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/source"
	"github.com/defender-intake/defender-intake/internal/source/kafka"
)

// selfSigned returns a TLS certificate for 127.0.0.1 and its PEM.
func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

type countingEmitter struct {
	mu   sync.Mutex
	msgs int
}

func (c *countingEmitter) Emit(_ context.Context, b *pipeline.Batch) error {
	c.mu.Lock()
	c.msgs += len(b.Messages)
	c.mu.Unlock()
	b.Ack(nil)
	return nil
}

// The Event Hubs Kafka endpoint's way in: TLS, SASL PLAIN with user
// "$ConnectionString" and the connection string as password.
func TestTLSAndSASLPlain(t *testing.T) {
	const connStr = "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=c2VjcmV0"
	cert, pemBytes := selfSigned(t)
	k, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}),
		kfake.EnableSASL(), kfake.Superuser("PLAIN", "$ConnectionString", connStr))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	prod, err := kgo.NewClient(kgo.SeedBrokers(k.ListenAddrs()...), kgo.DefaultProduceTopic(topic),
		kgo.DialTLSConfig(&tls.Config{RootCAs: pool}), kgo.SASL(plain.Auth{User: "$ConnectionString", Pass: connStr}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for i := 0; i < 5; i++ {
		if err := prod.ProduceSync(context.Background(), &kgo.Record{Value: deliverytest.Envelope(deliverytest.Records(3, "tls"))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name     string
		password string
		want     int
	}{
		{name: "right connection string", password: connStr, want: 5},
		{name: "wrong key", password: connStr + "x", want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := sectionFor(k.ListenAddrs())
			c.Group = "auth-" + tc.name
			c.TLS = kafka.TLS{Enabled: true, CAFile: ca}
			c.SASL = kafka.SASL{Mechanism: "PLAIN", Username: "$ConnectionString", Password: config.NewSecret(tc.password)}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			var logs syncBuffer
			s, err := kafka.New("in", c, source.Env{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			em := &countingEmitter{}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx, em) }()
			wait := time.Now().Add(3 * time.Second)
			if tc.want > 0 {
				wait = time.Now().Add(15 * time.Second)
			}
			for time.Now().Before(wait) {
				em.mu.Lock()
				n := em.msgs
				em.mu.Unlock()
				if tc.want > 0 && n >= tc.want {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			<-done
			if em.msgs != tc.want {
				t.Errorf("received %d messages, want %d", em.msgs, tc.want)
			}
			if tc.want == 0 && !strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("refused credentials were not reported:\n%s", logs.String())
			}
			if strings.Contains(logs.String(), "c2VjcmV0") {
				t.Errorf("the log shows the key:\n%s", logs.String())
			}
		})
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A stop commits what was delivered even when the periodic commit is far
// away.
func TestStopCommits(t *testing.T) {
	k, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	produce(t, k.ListenAddrs(), deliverytest.Records(400, "stop"))
	c := sectionFor(k.ListenAddrs())
	c.CommitInterval = time.Hour
	s, err := kafka.New("in", c, source.Env{})
	if err != nil {
		t.Fatal(err)
	}
	em := &countingEmitter{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, em) }()
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		em.mu.Lock()
		n := em.msgs
		em.mu.Unlock()
		if n >= 40 {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("%d of 40 messages", n)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := committed(t, k.ListenAddrs()); got != 400 {
		t.Errorf("committed %d records after stop, want 400", got)
	}
}
