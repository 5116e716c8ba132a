package testkit

import (
	"sync"
	"time"
)

// Start is the time a Clock made by NewClock shows until it is moved.
var Start = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// Clock is a settable time source, safe for concurrent use, so that
// freshness, expiry and damping are tested without sleeping. Pass its Now
// method wherever the code under test takes a `now func() time.Time`.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock showing Start.
func NewClock() *Clock { return &Clock{t: Start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d (backward when d < 0).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}
