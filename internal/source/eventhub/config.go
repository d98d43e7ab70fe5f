package eventhub

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/defender-intake/defender-intake/internal/config"
)

// Config is the `type: eventhub` source section. The first five keys are,
// one to one, the five values the setup guide has users write down.
type Config struct {
	// HubName is the Event Hub name. It may be left empty when the
	// connection string has EntityPath.
	HubName string `yaml:"hub_name"`
	// HubConnectionString is the hub's (or namespace's) shared access
	// connection string. Leave empty to use Namespace and Entra ID.
	HubConnectionString config.Secret `yaml:"hub_connection_string"`
	// HubConsumerGroup is the consumer group; instances that share it
	// share the partitions.
	HubConsumerGroup string `yaml:"hub_consumer_group"`
	// StorageContainerName is the blob container holding checkpoints and
	// partition ownership; created if missing.
	StorageContainerName string `yaml:"storage_container_name"`
	// StorageConnectionString is the storage account's connection string.
	// Leave empty to use StorageAccountURL and Entra ID.
	StorageConnectionString config.Secret `yaml:"storage_connection_string"`

	// Namespace (NAME.servicebus.windows.net) and StorageAccountURL
	// (https://ACCOUNT.blob.core.windows.net) select Entra ID
	// authentication (azidentity's default chain: environment, workload
	// or managed identity, Azure CLI) instead of connection strings.
	Namespace         string `yaml:"namespace"`
	StorageAccountURL string `yaml:"storage_account_url"`

	// StartPosition applies to partitions without a checkpoint: earliest
	// or latest.
	StartPosition string `yaml:"start_position"`
	// MaxBatchEvents bounds the events received and emitted at once per
	// partition; MaxWait bounds the wait for them.
	MaxBatchEvents int           `yaml:"max_batch_events"`
	MaxWait        time.Duration `yaml:"max_wait"`
	// Prefetch is how many events the client buffers per partition ahead
	// of ReceiveEvents (the SDK's Prefetch; 0 is the SDK's default of 300,
	// -1 disables it). Memory is
	// about owned partitions x (prefetch + max_batch_events) x message
	// size, and Defender messages can approach 1 MB.
	Prefetch int32 `yaml:"prefetch"`
	// CheckpointInterval is the shortest time between two writes of a
	// partition's delivered position to the blob store: a write follows
	// the first acknowledgement after it, and those of one interval are
	// written together (also when a partition is released and at
	// shutdown). Each write is a billed blob operation, hence 5s.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	// OwnershipUpdateInterval and OwnershipExpiration tune the load
	// balancing between instances (the SDK's UpdateInterval and
	// PartitionExpirationDuration).
	OwnershipUpdateInterval time.Duration `yaml:"ownership_update_interval"`
	OwnershipExpiration     time.Duration `yaml:"ownership_expiration"`
}

// DefaultConfig holds the section's defaults.
func DefaultConfig() *Config {
	return &Config{
		HubConsumerGroup: "$Default", StartPosition: "earliest", MaxBatchEvents: 100, MaxWait: 5 * time.Second, Prefetch: 100,
		CheckpointInterval: 5 * time.Second, OwnershipUpdateInterval: 10 * time.Second, OwnershipExpiration: time.Minute,
	}
}

// Validate implements source.Section.
func (c *Config) Validate() error {
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	switch {
	case c.HubConnectionString.IsSet() && c.Namespace != "":
		bad("hub_connection_string and namespace: give one, not both")
	case !c.HubConnectionString.IsSet() && c.Namespace == "":
		bad("hub_connection_string: required (or namespace, for Entra ID)")
	}
	if c.HubConnectionString.IsSet() {
		entity, err := entityPath(c.HubConnectionString.Value())
		switch {
		case err != nil:
			bad("hub_connection_string: %v", err)
		case entity == "" && c.HubName == "":
			bad("hub_name: required (the connection string has no EntityPath)")
		case entity != "" && c.HubName != "" && entity != c.HubName:
			bad("hub_name %q differs from the connection string's EntityPath %q", c.HubName, entity)
		}
	} else if c.HubName == "" {
		bad("hub_name: required")
	}
	if c.HubConsumerGroup == "" {
		bad("hub_consumer_group: required ($Default is the hub's default group)")
	}
	if c.StorageContainerName == "" {
		bad("storage_container_name: required")
	}
	switch {
	case c.StorageConnectionString.IsSet() && c.StorageAccountURL != "":
		bad("storage_connection_string and storage_account_url: give one, not both")
	case !c.StorageConnectionString.IsSet() && c.StorageAccountURL == "":
		bad("storage_connection_string: required (or storage_account_url, for Entra ID)")
	}
	if c.StorageConnectionString.IsSet() {
		if err := config.CheckStorageConnectionString(c.StorageConnectionString.Value()); err != nil {
			bad("storage_connection_string: %v", err)
		}
	}
	if c.Prefetch < -1 {
		bad("prefetch: -1 (off) or more")
	}
	if c.StartPosition != "earliest" && c.StartPosition != "latest" {
		bad("start_position: %q is not earliest or latest", c.StartPosition)
	}
	if c.MaxBatchEvents < 1 || c.MaxWait <= 0 || c.CheckpointInterval <= 0 || c.OwnershipUpdateInterval <= 0 || c.OwnershipExpiration <= c.OwnershipUpdateInterval {
		bad("max_batch_events >= 1, max_wait, checkpoint_interval, ownership_update_interval > 0 and ownership_expiration > ownership_update_interval are required")
	}
	return errors.Join(errs...)
}

// entityPath returns the EntityPath of an Event Hubs connection string, and
// an error (which never quotes the string: it holds a key) when it does
// not look like one.
func entityPath(cs string) (string, error) {
	var endpoint, entity string
	for _, part := range strings.Split(cs, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch strings.ToLower(k) {
		case "endpoint":
			endpoint = v
		case "entitypath":
			entity = v
		}
	}
	if !strings.HasPrefix(endpoint, "sb://") {
		return "", errors.New("not an Event Hubs connection string (no Endpoint=sb://...)")
	}
	return entity, nil
}
