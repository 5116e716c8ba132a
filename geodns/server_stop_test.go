package geodns

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestServeStopsAtOnce: a Server whose context is already cancelled when
// Serve starts returns promptly. The TCP accept loop used to read the
// listener after Serve had closed and cleared it, then spin on a nil
// listener's errors for ever (a data race, and test runs that hung).
func TestServeStopsAtOnce(t *testing.T) {
	// One P: the goroutines Serve starts run only once it blocks, which a
	// cancelled context never makes it do before it closes its sockets.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	resp := newTestResponder(t)
	for i := range 10 {
		s, err := Listen(ServerConfig{Addr: "127.0.0.1:0", UDPSockets: 1}, resp, newMetrics(prometheus.NewRegistry(), nil))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		done := make(chan error, 1)
		go func() { done <- s.Serve(ctx) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve %d: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("serve %d: still running 10 s after its context ended", i)
		}
	}
}
