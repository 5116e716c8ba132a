package geodns

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// scopeCache finds the ECS scope of an answer: the widest network around
// the client's address in which every address gets the same ranking of data
// centers, and therefore the same answer whatever the health of the fleet
// (RFC 7871 §7.2.1). It starts from the Locator's network for the address
// and widens one bit at a time while the other half of the wider network
// ranks the same; the results are kept per Locator network.
type scopeCache struct {
	m sync.Map // netip.Prefix → uint8
	n atomic.Int64

	// Widening costs up to scopeBudget lookups, so a flood of queries from
	// ever new subnets could buy a lot of CPU: at most maxWidenings per
	// second are done; past that a scope is the Locator's network.
	second    atomic.Int64 // the Unix second the count is for
	widenings atomic.Int64
}

// scopeBudget bounds the networks looked at to widen one scope, so a first
// query never walks a whole database; past it the scope stays narrower,
// which is always correct, only less cacheable.
const scopeBudget = 256

// maxWidenings per second, for all workers (at ~0.3 µs a lookup, at most
// about 15% of a core).
const maxWidenings = 2000

// maxCachedScopes bounds the cache; when full it starts again empty.
const maxCachedScopes = 1 << 18

// scope returns the scope for addr, which the Locator placed in region with
// ranking rk (nil when it could not place it).
func (c *scopeCache) scope(r *Responder, addr netip.Addr, region netip.Prefix, rk *Ranking) uint8 {
	if !region.IsValid() {
		return uint8(netip.PrefixFrom(addr, addr.BitLen()).Bits())
	}
	if v, ok := c.m.Load(region); ok {
		return v.(uint8)
	}
	bits := region.Bits()
	if !c.allowWidening() {
		return uint8(bits)
	}
	budget := scopeBudget
	for bits > 0 {
		cur, _ := addr.Prefix(bits)
		sibling := netip.PrefixFrom(flipBit(cur.Addr(), bits-1), bits)
		same := true
		r.loc.Within(sibling, func(_ netip.Prefix, loc Location, ok bool) bool {
			budget--
			var other *Ranking
			if ok {
				other = r.sel.Rank(loc, true)
			}
			if budget < 0 || other != rk {
				same = false
			}
			return same
		})
		if !same {
			break
		}
		bits--
	}
	if c.n.Add(1) > maxCachedScopes {
		c.m.Clear()
		c.n.Store(1)
	}
	c.m.Store(region, uint8(bits))
	return uint8(bits)
}

// allowWidening counts one widening against this second's allowance.
func (c *scopeCache) allowWidening() bool {
	now := time.Now().Unix()
	if c.second.Load() != now {
		c.second.Store(now)
		c.widenings.Store(0)
	}
	return c.widenings.Add(1) <= maxWidenings
}

// flipBit returns a with bit i (0 = most significant) inverted.
func flipBit(a netip.Addr, i int) netip.Addr {
	if a.Is4() {
		b := a.As4()
		b[i/8] ^= 0x80 >> (i % 8)
		return netip.AddrFrom4(b)
	}
	b := a.As16()
	b[i/8] ^= 0x80 >> (i % 8)
	return netip.AddrFrom16(b)
}
