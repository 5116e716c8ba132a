package testkit

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Run runs run (a server's, prober's or node's Run) in a goroutine until
// stop is called or the test ends, whichever is first. Stopping cancels
// run's context and fails the test unless run then returns nil within
// the given time, so that every goroutine a test starts is known to end.
func Run(t testing.TB, within time.Duration, run func(context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(within):
				t.Errorf("Run did not return %v after its context ended", within)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
