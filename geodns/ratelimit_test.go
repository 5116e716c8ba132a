package geodns

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// TestRateLimiterKeepsLimitedClients: other keys passing through the same
// set of buckets do not give a limited client a fresh budget.
func TestRateLimiterKeepsLimitedClients(t *testing.T) {
	l := NewRateLimiter(10, 2, 24, 56)
	l.buckets = make([]bucket, ways) // one set: every key collides
	now := time.Unix(1000, 0).UnixNano()
	l.now = func() int64 { return now }
	victim := netip.MustParseAddr("198.51.100.7")
	sent := 0
	for i := range 2000 {
		now += int64(time.Millisecond) // 1,000 queries a second for 2 s
		if l.Check(victim, kindAnswer, []byte("www.cdn.test."), 1) == Send {
			sent++
		}
		// and 3 other sources each millisecond
		for k := range 3 {
			other := netip.MustParseAddr(fmt.Sprintf("10.%d.%d.1", k, i%250))
			l.Check(other, kindAnswer, []byte("www.cdn.test."), 1)
		}
	}
	// 10 a second with a one-second burst: about 10 + 2*10.
	if sent < 25 || sent > 35 {
		t.Errorf("victim got %d answers in 2 s, want about 30", sent)
	}
}

func TestRateLimiterSlip(t *testing.T) {
	l := NewRateLimiter(5, 2, 24, 56)
	now := time.Unix(1000, 0).UnixNano()
	l.now = func() int64 { return now }
	c := netip.MustParseAddr("192.0.2.1")
	counts := map[Verdict]int{}
	for range 25 {
		counts[l.Check(c, kindNXDomain, []byte("cdn.test."), 0)]++
	}
	// 5 sent (the burst), then every second one slips.
	if counts[Send] != 5 || counts[Slip] != 10 || counts[Drop] != 10 {
		t.Errorf("verdicts %v", counts)
	}
	// Another network is counted apart; the same /24 is not.
	if l.Check(netip.MustParseAddr("192.0.3.1"), kindNXDomain, []byte("cdn.test."), 0) != Send {
		t.Error("another /24 limited")
	}
	if l.Check(netip.MustParseAddr("192.0.2.200"), kindNXDomain, []byte("cdn.test."), 0) == Send {
		t.Error("same /24 not limited")
	}
	if NewRateLimiter(-1, 2, 24, 56) != nil {
		t.Error("negative rate is not off")
	}
}

// TestWideningIsBounded: new client networks beyond the allowance per
// second get the Locator's network as their scope, without widening.
func TestWideningIsBounded(t *testing.T) {
	r := newTestResponder(t)
	var c scopeCache
	c.second.Store(time.Now().Unix())
	c.widenings.Store(maxWidenings) // this second's allowance is spent
	a := netip.MustParseAddr("203.0.113.0")
	_, region, _ := r.loc.Locate(a)
	if got := c.scope(r, a, region, nil); int(got) != region.Bits() {
		t.Errorf("scope %d over the allowance, want the region's %d", got, region.Bits())
	}
	if _, cached := c.m.Load(region); cached {
		t.Error("an unwidened scope was cached")
	}
}
