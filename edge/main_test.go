package edge_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		// Re-executed by a crash test to be the node it kills.
		os.Exit(runChildNode())
	}
	goleak.VerifyTestMain(m,
		// ristretto's processItems goroutines stop on Close, but the test
		// HTTP client's idle connections may linger a moment.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		// certmagic keeps a lock file fresh until it is released and runs
		// its ACME rate limiters for the life of the process: its own,
		// package-level goroutines, not ours.
		goleak.IgnoreAnyFunction("github.com/caddyserver/certmagic.keepLockfileFresh"),
		goleak.IgnoreAnyFunction("github.com/caddyserver/certmagic.(*RingBufferRateLimiter).loop"),
		// Pebble's validator (test-only ACME CA) has no way to stop.
		goleak.IgnoreAnyFunction("github.com/letsencrypt/pebble/v2/va.VAImpl.processTasks"),
	)
}
