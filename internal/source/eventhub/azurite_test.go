package eventhub

import (
	"testing"

	"github.com/defender-intake/defender-intake/internal/testenv"
)

// azurite returns a connection string to an Azurite blob service.
func azurite(t *testing.T) string { return testenv.Azurite(t) }
