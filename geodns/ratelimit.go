package geodns

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// RateLimiter is response rate limiting (RRL) in the manner of BIND and
// NSD: responses are counted per client network and per kind of response
// (the same answer, the same NODATA, any NXDOMAIN of a zone, any error), so
// that a flood of queries with a spoofed source cannot turn the server into
// an amplifier, while a real resolver behind the same network still gets
// every different answer. Over the limit, every Slip-th response is sent
// truncated (a real client retries over TCP, which is never limited) and the
// others are dropped.
type RateLimiter struct {
	interval int64 // ns of credit one response costs
	burst    int64 // ns of credit a bucket may hold (one second's worth)
	slip     int
	v4, v6   int
	seed     maphash.Seed
	now      func() int64

	buckets []bucket // len a power of two, a multiple of ways
	locks   [256]sync.Mutex
}

// ways per set of buckets.
const ways = 4

type bucket struct {
	key   uint64
	tat   int64 // theoretical arrival time (GCRA)
	slips uint32
}

// Verdict is what to do with a response.
type Verdict int

// The verdicts of Check.
const (
	Send Verdict = iota
	Drop
	Slip
)

// NewRateLimiter allows perSecond responses per client network and kind;
// nil when perSecond ≤ 0 (off). slip ≤ 0 drops every limited response.
func NewRateLimiter(perSecond, slip, v4Prefix, v6Prefix int) *RateLimiter {
	if perSecond <= 0 {
		return nil
	}
	return &RateLimiter{
		interval: int64(time.Second) / int64(perSecond),
		burst:    int64(time.Second),
		slip:     slip,
		v4:       v4Prefix,
		v6:       v6Prefix,
		seed:     maphash.MakeSeed(),
		now:      func() int64 { return time.Now().UnixNano() },
		buckets:  make([]bucket, 1<<16),
	}
}

// Response kinds, part of a bucket's key.
const (
	kindAnswer   = 'a'
	kindNoData   = 'd'
	kindNXDomain = 'n'
	kindError    = 'e'
)

// Check counts a response of kind (with name and qtype, as relevant) to
// client and says whether to send it.
func (l *RateLimiter) Check(client netip.Addr, kind byte, name []byte, qtype uint16) Verdict {
	bits := l.v6
	if client.Is4() {
		bits = l.v4
	}
	p, _ := client.Prefix(bits)
	a := p.Addr().As16()
	var h maphash.Hash
	h.SetSeed(l.seed)
	h.Write(a[:])
	h.WriteByte(kind)
	h.Write(name)
	h.WriteByte(byte(qtype >> 8))
	h.WriteByte(byte(qtype))
	key := h.Sum64()

	// Buckets are in sets of ways; a key lives in one set, and a new key
	// takes the way whose credit came back longest ago. A client being
	// limited keeps its bucket (its tat is in the future) however many
	// other keys pass through the set, so spraying other sources cannot
	// hand it a fresh budget.
	set := int(key & uint64(len(l.buckets)/ways-1))
	mu := &l.locks[set&(len(l.locks)-1)]
	now := l.now()
	mu.Lock()
	defer mu.Unlock()
	ws := l.buckets[set*ways : set*ways+ways]
	var b *bucket
	for j := range ws {
		if ws[j].key == key {
			b = &ws[j]
			break
		}
	}
	if b == nil {
		b = &ws[0]
		for j := range ws {
			if ws[j].tat < b.tat {
				b = &ws[j]
			}
		}
		*b = bucket{key: key, tat: now}
	}
	tat := max(b.tat, now)
	if tat-now+l.interval > l.burst {
		b.slips++
		if l.slip > 0 && b.slips%uint32(l.slip) == 0 {
			return Slip
		}
		return Drop
	}
	b.tat = tat + l.interval
	return Send
}
