package node

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(purgeChildEnv) != "" {
		// Re-executed by TestPurgeSIGKILLAppliesMissed to be the node it kills.
		os.Exit(runPurgeChild())
	}
	goleak.VerifyTestMain(m)
}
