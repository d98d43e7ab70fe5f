package eventhub

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/defender-intake/defender-intake/internal/config"
	"github.com/defender-intake/defender-intake/internal/deadletter"
	"github.com/defender-intake/defender-intake/internal/metrics"
	"github.com/defender-intake/defender-intake/internal/pipeline"
	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
	"github.com/defender-intake/defender-intake/internal/sink"
	filesink "github.com/defender-intake/defender-intake/internal/sink/file"
)

// TestLiveEventHub runs against a real Event Hub when these are set:
// EVENTHUB_CONNECTION_STRING (and EVENTHUB_NAME unless it has EntityPath),
// EVENTHUB_CONSUMER_GROUP (default $Default), STORAGE_CONNECTION_STRING
// (default: Azurite) and STORAGE_CONTAINER_NAME. It sends envelopes with
// the SDK's producer, then consumes them through the real Processor and
// pipeline. Without them it is skipped: no Event Hub can run here or in CI.
func TestLiveEventHub(t *testing.T) {
	hubCS := os.Getenv("EVENTHUB_CONNECTION_STRING")
	if hubCS == "" {
		t.Skip("EVENTHUB_CONNECTION_STRING not set: live Event Hub test skipped")
	}
	cfg := *DefaultConfig()
	cfg.HubConnectionString, cfg.HubName = config.NewSecret(hubCS), os.Getenv("EVENTHUB_NAME")
	if g := os.Getenv("EVENTHUB_CONSUMER_GROUP"); g != "" {
		cfg.HubConsumerGroup = g
	}
	storage := os.Getenv("STORAGE_CONNECTION_STRING")
	if storage == "" {
		storage = azurite(t)
	}
	cfg.StorageConnectionString = config.NewSecret(storage)
	cfg.StorageContainerName = os.Getenv("STORAGE_CONTAINER_NAME")
	if cfg.StorageContainerName == "" {
		cfg.StorageContainerName = fmt.Sprintf("defender-intake-live-%d", time.Now().Unix())
	}
	cfg.StartPosition, cfg.CheckpointInterval, cfg.MaxWait = "latest", time.Second, time.Second
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	fs, err := filesink.Open("out", filesink.Config{Path: filepath.Join(dir, "out.ndjson")})
	if err != nil {
		t.Fatal(err)
	}
	dl, err := deadletter.OpenFile(filepath.Join(dir, "dead.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	src := New("live", cfg, sourceEnv(log, m))
	pl := pipeline.New(pipeline.Options{Sinks: []sink.Sink{fs}, DeadLetter: dl, Metrics: m, Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pl.Run(ctx, []pipeline.Source{src}) }()
	time.Sleep(15 * time.Second) // let the processor claim partitions at "latest"

	run := fmt.Sprint(time.Now().Unix())
	recs := deliverytest.Records(100, run)
	entity, _ := entityPath(hubCS)
	name := cfg.HubName
	if entity != "" {
		name = ""
	}
	prod, err := azeventhubs.NewProducerClientFromConnectionString(hubCS, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close(context.Background())
	batch, err := prod.NewEventDataBatch(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := batch.AddEventData(&azeventhubs.EventData{Body: deliverytest.Envelope(recs[i*10 : (i+1)*10])}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := prod.SendEventDataBatch(context.Background(), batch, nil); err != nil {
		t.Fatal(err)
	}
	want := deliverytest.IDs(100, run)
	for start := time.Now(); ; time.Sleep(200 * time.Millisecond) {
		missing, ex, _ := deliverytest.Check(deliverytest.Count(deliverytest.ReadNDJSON(t, filepath.Join(dir, "out.ndjson"))), want)
		if missing == 0 {
			break
		}
		if time.Since(start) > 2*time.Minute {
			t.Fatalf("%d of 100 records not received (e.g. %s)", missing, ex)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
