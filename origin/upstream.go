package origin

import (
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Upstream is one upstream server (a shield or an origin) with its health.
//
// Two independent verdicts make it available: active checks (Healthy) and
// passive failure counting (a hold-down after MaxFails consecutive failed
// requests, then one probe request at a time).
type Upstream struct {
	// Name identifies the upstream in metrics, logs, status and rendezvous
	// hashing: every node must give the same server the same name, or they
	// will rank keys differently.
	Name string
	// URL is the upstream's base, scheme://host[:port]. Only its scheme and
	// host are used: requests keep their own path and query.
	URL *url.URL

	pool     *Pool    // owner: health config, clock, logger; nil for a bare Upstream
	checkURL *url.URL // nil: no active checks
	nameHash uint64   // xxhash of Name, for Rank

	// Active checks' verdict. Written only by the pool's prober, read
	// anywhere; inverted so that the zero Upstream is healthy.
	unhealthy atomic.Bool

	// Passive health is a small state machine whose transitions must be
	// atomic as a whole (exactly one request may claim a probe), so it is
	// under a mutex rather than spread over several atomics.
	mu        sync.Mutex
	fails     int           // consecutive failed requests
	downUntil time.Time     // end of the hold-down while fails >= MaxFails
	backoff   time.Duration // the current hold-down
	probing   bool          // a half-open probe is in flight
}

// Healthy reports the active checks' verdict. An upstream without active
// checks is always healthy; one with checks starts healthy and flips after
// Fall consecutive failed checks (back after Rise passes).
func (u *Upstream) Healthy() bool { return !u.unhealthy.Load() }

// Available reports whether a request may be sent to u now: it is healthy
// and not held down by passive failures. Once a hold-down has expired the
// upstream is half-open and available to exactly one probe request at a
// time: Available is false while that probe is in flight.
func (u *Upstream) Available() bool {
	if !u.Healthy() {
		return false
	}
	now := u.now()
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.heldLocked() {
		return true
	}
	return !now.Before(u.downUntil) && !u.probing
}

// acquire claims u for one request. probe is true when the request is the
// half-open probe; it must be followed by succeeded, failed or release.
func (u *Upstream) acquire() (probe, ok bool) {
	if !u.Healthy() {
		return false, false
	}
	now := u.now()
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case !u.heldLocked():
		return false, true
	case now.Before(u.downUntil) || u.probing:
		return false, false
	}
	u.probing = true
	return true, true
}

// release gives a probe back without a verdict (the request was abandoned,
// for example because its client went away).
func (u *Upstream) release(probe bool) {
	if !probe {
		return
	}
	u.mu.Lock()
	u.probing = false
	u.mu.Unlock()
}

// succeeded records a request u answered: it resets the failure count and
// ends any hold-down.
func (u *Upstream) succeeded(probe bool) {
	u.mu.Lock()
	wasDown := u.heldLocked()
	u.fails, u.backoff, u.downUntil = 0, 0, time.Time{}
	if probe {
		u.probing = false
	}
	u.mu.Unlock()
	if wasDown {
		u.logger().Info("upstream back up", "pool", u.poolName(), "upstream", u.Name)
	}
}

// failed records a request u failed. The MaxFails-th consecutive failure
// holds it down for FailBackoff; a failed probe holds it down again for
// twice the previous hold-down, up to MaxBackoff. Failures of requests
// sent while it was already down (stragglers, forced attempts) only count.
func (u *Upstream) failed(probe bool) {
	hc := u.health()
	now := u.now()
	u.mu.Lock()
	u.fails++
	var hold time.Duration
	switch {
	case hc.MaxFails <= 0:
	case probe && u.fails > hc.MaxFails:
		hold = min(max(2*u.backoff, hc.FailBackoff), hc.MaxBackoff)
	case u.fails == hc.MaxFails:
		hold = hc.FailBackoff
	}
	if hold > 0 {
		u.backoff, u.downUntil = hold, now.Add(hold)
	}
	if probe {
		u.probing = false
	}
	fails := u.fails
	u.mu.Unlock()
	if hold > 0 {
		u.logger().Warn("upstream held down after failed requests", "pool", u.poolName(), "upstream", u.Name,
			"consecutive_fails", fails, "backoff_seconds", hold.Seconds())
	}
}

// heldLocked reports whether passive failures have marked u down (held
// down or half-open). u.mu must be held.
func (u *Upstream) heldLocked() bool {
	m := u.health().MaxFails
	return m > 0 && u.fails >= m
}

// UpstreamStatus is one upstream's state, for a status endpoint.
type UpstreamStatus struct {
	Pool      string `json:"pool"`
	Name      string `json:"name"`
	URL       string `json:"url"`
	Healthy   bool   `json:"healthy"`   // active checks
	Available bool   `json:"available"` // healthy and not held down by passive failures
	// ConsecutiveFails counts failed requests since the last success.
	ConsecutiveFails int `json:"consecutive_fails"`
	// DownUntil is when the current passive hold-down ends (zero if none);
	// after it the upstream is half-open.
	DownUntil time.Time `json:"down_until,omitzero"`
}

// Status returns u's state.
func (u *Upstream) Status() UpstreamStatus {
	s := UpstreamStatus{Pool: u.poolName(), Name: u.Name, Healthy: u.Healthy(), Available: u.Available()}
	if u.URL != nil {
		s.URL = u.URL.String()
	}
	u.mu.Lock()
	s.ConsecutiveFails = u.fails
	if u.heldLocked() {
		s.DownUntil = u.downUntil
	}
	u.mu.Unlock()
	return s
}

var defaultHealth = HealthConfig{}.withDefaults()

func (u *Upstream) health() *HealthConfig {
	if u.pool == nil {
		return &defaultHealth
	}
	return &u.pool.hc
}

func (u *Upstream) now() time.Time {
	if u.pool == nil || u.pool.now == nil {
		return time.Now()
	}
	return u.pool.now()
}

func (u *Upstream) poolName() string {
	if u.pool == nil {
		return ""
	}
	return u.pool.name
}
