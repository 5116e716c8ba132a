package edge

import (
	"testing"
	"time"
)

// FailureReason exposes failureReason to the contract test.
var FailureReason = failureReason

// WaitSettled waits until no fill runs on h. A fill's clients can have
// their whole body before it is stored, and a request then joins the
// finishing fill (detail=collapsed) instead of finding the store: tests
// whose next request must be a hit wait for this first.
func (h *Handler) WaitSettled(t testing.TB) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		h.flights.mu.Lock()
		n := len(h.flights.m)
		h.flights.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d fills still running", n)
		}
	}
}
