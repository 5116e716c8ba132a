package testkit

import (
	"testing"
	"time"
)

// pollEvery is how often Eventually and Within check their condition.
const pollEvery = 2 * time.Millisecond

// Eventually polls cond until it holds and fails the test (naming what it
// waited for) when within has passed first. It is for background work that
// has no event a test could wait on.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Within(within, cond) {
		t.Fatalf("timed out after %v waiting for %s", within, what)
	}
}

// Within polls cond until it holds or d has passed and reports whether it
// held, for tests that report the failure themselves.
func Within(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(pollEvery) {
		if cond() {
			return true
		}
	}
	return cond()
}
