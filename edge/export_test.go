package edge

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/tern-cdn/tern/edge/h1/h1test"

	"github.com/tern-cdn/tern/internal/testkit"
)

// FailureReason exposes failureReason to the contract test.
var FailureReason = failureReason

// WaitSettled waits until no fill runs on h. A fill's clients can have
// their whole body before it is stored, and a request then joins the
// finishing fill (detail=collapsed) instead of finding the store: tests
// whose next request must be a hit wait for this first.
func (h *Handler) WaitSettled(t testing.TB) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, "every fill to finish", func() bool {
		h.codingMu.Lock()
		coding := len(h.coding)
		h.codingMu.Unlock()
		h.flights.mu.Lock()
		defer h.flights.mu.Unlock()
		return len(h.flights.m) == 0 && coding == 0
	})
}

// newEdgeServer is httptest.NewServer(h), or h1test.NewServer(h) when
// TERN_TEST_H1=tern (see serverchoice_test.go).
func newEdgeServer(tb testing.TB, h http.Handler) *httptest.Server {
	tb.Helper()
	if os.Getenv("TERN_TEST_H1") == "tern" {
		return h1test.NewServer(h)
	}
	return httptest.NewServer(h)
}
