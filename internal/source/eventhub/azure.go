package eventhub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2/checkpoints"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// This file is the thin layer over the Azure SDK: building the clients,
// the container, and adapting the Processor to balancer. The AMQP side
// cannot run in tests; the blob side is tested against Azurite.

// openContainer returns the checkpoint container's client from the
// storage connection string or account URL (Entra ID), creating the
// container when it does not exist.
func openContainer(ctx context.Context, cfg Config, cred azcore.TokenCredential) (*container.Client, error) {
	var (
		cc  *container.Client
		err error
	)
	if cfg.StorageConnectionString.IsSet() {
		cc, err = container.NewClientFromConnectionString(cfg.StorageConnectionString.Value(), cfg.StorageContainerName, nil)
	} else {
		cc, err = container.NewClient(cfg.StorageAccountURL+"/"+cfg.StorageContainerName, cred, nil)
	}
	if err != nil {
		// SDK errors about connection strings do not quote them.
		return nil, fmt.Errorf("checkpoint storage: %w", err)
	}
	if _, err := cc.Create(ctx, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return nil, fmt.Errorf("create checkpoint container %q: %w", cfg.StorageContainerName, err)
	}
	return cc, nil
}

// newCheckpointStore is the SDK's blob checkpoint store on the container.
func newCheckpointStore(cc *container.Client) (azeventhubs.CheckpointStore, error) {
	store, err := checkpoints.NewBlobStore(cc, nil)
	if err != nil {
		return nil, fmt.Errorf("checkpoint store: %w", err)
	}
	return store, nil
}

// connectAzure builds the consumer client, the checkpoint store and the
// Processor. It returns the hub name for origin metadata.
func connectAzure(ctx context.Context, cfg Config, log *slog.Logger) (balancer, string, error) {
	var cred azcore.TokenCredential
	if !cfg.HubConnectionString.IsSet() || !cfg.StorageConnectionString.IsSet() {
		c, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, "", fmt.Errorf("entra ID credential: %w", err)
		}
		cred = c
	}
	hub := cfg.HubName
	var (
		cons *azeventhubs.ConsumerClient
		err  error
	)
	if cfg.HubConnectionString.IsSet() {
		entity, _ := entityPath(cfg.HubConnectionString.Value()) // validated
		name := cfg.HubName
		if entity != "" {
			name, hub = "", entity // the SDK wants one or the other
		}
		cons, err = azeventhubs.NewConsumerClientFromConnectionString(cfg.HubConnectionString.Value(), name, cfg.HubConsumerGroup, nil)
	} else {
		cons, err = azeventhubs.NewConsumerClient(cfg.Namespace, cfg.HubName, cfg.HubConsumerGroup, cred, nil)
	}
	if err != nil {
		return nil, "", fmt.Errorf("event hub client: %w", err)
	}
	cc, err := openContainer(ctx, cfg, cred)
	if err != nil {
		cons.Close(ctx)
		return nil, "", err
	}
	store, err := newCheckpointStore(cc)
	if err != nil {
		cons.Close(ctx)
		return nil, "", err
	}
	start := azeventhubs.StartPosition{}
	yes := true
	if cfg.StartPosition == "latest" {
		start.Latest = &yes
	} else {
		start.Earliest = &yes
	}
	proc, err := azeventhubs.NewProcessor(cons, store, &azeventhubs.ProcessorOptions{
		LoadBalancingStrategy:       azeventhubs.ProcessorStrategyBalanced,
		UpdateInterval:              cfg.OwnershipUpdateInterval,
		PartitionExpirationDuration: cfg.OwnershipExpiration,
		StartPositions:              azeventhubs.StartPositions{Default: start},
		Prefetch:                    cfg.Prefetch,
	})
	if err != nil {
		cons.Close(ctx)
		return nil, "", fmt.Errorf("event hub processor: %w", err)
	}
	return &sdkBalancer{proc: proc, cons: cons}, hub, nil
}

// sdkBalancer adapts the SDK's Processor to balancer.
type sdkBalancer struct {
	proc *azeventhubs.Processor
	cons *azeventhubs.ConsumerClient
}

func (b *sdkBalancer) Run(ctx context.Context) error { return b.proc.Run(ctx) }

func (b *sdkBalancer) NextPartitionClient(ctx context.Context) partitionClient {
	pc := b.proc.NextPartitionClient(ctx)
	if pc == nil {
		return nil // a typed nil would not compare equal to nil
	}
	return pc
}

func (b *sdkBalancer) LastEnqueuedSequenceNumber(ctx context.Context, id string) (int64, error) {
	props, err := b.cons.GetPartitionProperties(ctx, id, nil)
	if err != nil {
		return 0, err
	}
	if props.IsEmpty {
		return 0, errors.New("partition is empty")
	}
	return props.LastEnqueuedSequenceNumber, nil
}

func (b *sdkBalancer) Close(ctx context.Context) error { return b.cons.Close(ctx) }
