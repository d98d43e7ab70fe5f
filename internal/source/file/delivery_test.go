package file_test

import (
	"testing"

	"github.com/defender-intake/defender-intake/internal/pipeline/deliverytest"
)

func TestDelivery(t *testing.T) {
	deliverytest.RunSourceSuite(t, deliverytest.FileSource())
}
