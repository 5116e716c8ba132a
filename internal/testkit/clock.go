package testkit

import (
	"sync/atomic"
	"time"
)

// Start is the time a Clock made by NewClock shows until it is moved.
var Start = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// Clock is a settable time source, safe for concurrent use, so that
// freshness, expiry and damping are tested without sleeping. Pass its Now
// method wherever the code under test takes a `now func() time.Time`.
// Make one with NewClock.
type Clock struct {
	t atomic.Pointer[time.Time]
}

// NewClock returns a Clock showing Start.
func NewClock() *Clock {
	c := &Clock{}
	c.Set(Start)
	return c
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return *c.t.Load() }

// Advance moves the clock forward by d (backward when d < 0). Concurrent
// Advances all count: each retries until it moves the time it read.
func (c *Clock) Advance(d time.Duration) {
	for {
		old := c.t.Load()
		next := old.Add(d)
		if c.t.CompareAndSwap(old, &next) {
			return
		}
	}
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) { c.t.Store(&t) }
