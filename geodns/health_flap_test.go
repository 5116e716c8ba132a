package geodns_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tern-cdn/tern/geodns"
	"github.com/tern-cdn/tern/internal/testkit"
)

// TestHealthFlapDamping flaps an edge on a real loopback health endpoint:
// every flap doubles the time it is held down (from the rise time, up to
// FlapHoldMax) whatever its checks say, and a stable edge's count decays.
// Checks run for real (every 5ms); the damping's clock is moved by hand.
func TestHealthFlapDamping(t *testing.T) {
	t.Parallel()
	e := startEdge(t)
	clock := testkit.NewClock()
	reg := prometheus.NewRegistry()
	cfg := geodns.HealthConfig{Interval: 5 * time.Millisecond, Timeout: 500 * time.Millisecond, Rise: 1, Fall: 1,
		FlapWindow: time.Minute, FlapHoldMax: 60 * time.Millisecond}
	h := newHealth(t, cfg, []geodns.CheckedDatacenter{{Name: "dc"}},
		[]geodns.CheckedEdge{{Name: "e", Datacenter: "dc", URL: e.url()}}, geodns.HealthOptions{Registerer: reg})
	h.SetClock(clock.Now)
	run(t, h)
	usable := func() bool { return h.State().EdgeUsable("e") }
	testkit.Eventually(t, 10*time.Second, "the edge up", usable)

	// passesWhileHeld: the endpoint passes, yet the edge stays down.
	passesWhileHeld := func() {
		t.Helper()
		e.mode.Store(edgeOK)
		testkit.Eventually(t, 10*time.Second, "passing checks", func() bool { return edgeStatus(t, h, "e").ConsecutivePasses >= 3 })
		if usable() {
			t.Fatal("a held edge came up")
		}
		if got := testkit.Value(t, reg, "tern_dns_edge_flap_held", "datacenter", "dc", "edge", "e"); got != 1 {
			t.Errorf("flap_held = %v while held", got)
		}
	}
	// flap takes the edge down (it was up for less than FlapWindow) and
	// checks the hold that follows.
	flap := func(n int, hold time.Duration) {
		t.Helper()
		e.mode.Store(edgeFailing)
		testkit.Eventually(t, 10*time.Second, "the edge down", func() bool { return !usable() })
		st := edgeStatus(t, h, "e")
		if st.Flaps != n || !st.HeldUntil.Equal(clock.Now().Add(hold)) {
			t.Errorf("after flap %d: flaps %d, held until %v, want %d, now+%v", n, st.Flaps, st.HeldUntil, n, hold)
		}
		if got := testkit.Value(t, reg, "tern_dns_edge_flaps_total", "datacenter", "dc", "edge", "e"); got != float64(n) {
			t.Errorf("flaps_total = %v, want %d", got, n)
		}
		passesWhileHeld()
		clock.Advance(hold - time.Millisecond)
		passes := edgeStatus(t, h, "e").ConsecutivePasses
		testkit.Eventually(t, 10*time.Second, "more passing checks", func() bool { return edgeStatus(t, h, "e").ConsecutivePasses >= passes+2 })
		if usable() {
			t.Fatalf("flap %d: up %v before the hold of %v ended", n, time.Millisecond, hold)
		}
		clock.Advance(time.Millisecond)
		testkit.Eventually(t, 10*time.Second, "the edge up after its hold", usable)
		if got := testkit.Value(t, reg, "tern_dns_edge_flap_held", "datacenter", "dc", "edge", "e"); got != 0 {
			t.Errorf("flap_held = %v after the hold", got)
		}
		if st := edgeStatus(t, h, "e"); !st.HeldUntil.IsZero() {
			t.Errorf("held_until %v after the hold", st.HeldUntil)
		}
	}
	// The rise time is 5ms: holds of 10, 20, 40, then the 60ms cap.
	flap(1, 10*time.Millisecond)
	flap(2, 20*time.Millisecond)
	flap(3, 40*time.Millisecond)
	flap(4, 60*time.Millisecond)
	flap(5, 60*time.Millisecond)

	// Stable for two windows: the count halves twice (5 → 1); going down
	// then is no flap, but the remaining count still holds it briefly.
	clock.Advance(2 * cfg.FlapWindow)
	if st := edgeStatus(t, h, "e"); st.Flaps != 1 {
		t.Errorf("after two stable windows: flaps %d, want 1", st.Flaps)
	}
	e.mode.Store(edgeFailing)
	testkit.Eventually(t, 10*time.Second, "the edge down", func() bool { return !usable() })
	if st := edgeStatus(t, h, "e"); st.Flaps != 1 || !st.HeldUntil.Equal(clock.Now().Add(10*time.Millisecond)) {
		t.Errorf("down after a stable spell: flaps %d, held until %v", st.Flaps, st.HeldUntil)
	}
	if got := testkit.Value(t, reg, "tern_dns_edge_flaps_total", "datacenter", "dc", "edge", "e"); got != 5 {
		t.Errorf("flaps_total = %v after a down that is no flap, want 5", got)
	}
	if got := testkit.Value(t, reg, "tern_dns_edge_downs_total", "datacenter", "dc", "edge", "e"); got != 6 {
		t.Errorf("downs_total = %v, want 6", got)
	}
}
