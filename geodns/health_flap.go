package geodns

import "time"

// Flap damping. An edge whose health alternates would flip the answers at
// every turn (every few seconds, each time cached by resolvers for a TTL).
// As gdnsd and route-flap damping do, such an edge is held down for a time
// that grows while it goes on flapping:
//
//   - a flap is going down after being up for less than FlapWindow;
//   - after its n-th flap in a row the edge is held down for the rise time
//     (Rise × Interval, what a normal recovery takes) × 2^n, at most
//     FlapHoldMax, counted from when it went down: passing checks do not
//     bring it up before then (they are still counted, so it comes up at
//     the first check after the hold if the last Rise passed);
//   - every FlapWindow it then stays up halves its count, so an edge that
//     has become stable is soon trusted at once again.

// edgeFlap is an edge's damping state, guarded by Health.mu.
type edgeFlap struct {
	count     int       // flaps, decayed
	upSince   time.Time // when it last went up; zero before
	heldUntil time.Time // passing checks do not bring it up before this
}

// up records that the edge went up at now.
func (f *edgeFlap) up(now time.Time) { f.upSince = now }

// down records that the edge went down at now and sets its hold-down. It
// reports whether this was a flap.
func (f *edgeFlap) down(now time.Time, cfg HealthConfig) (flapped bool) {
	if !f.upSince.IsZero() {
		stable := now.Sub(f.upSince)
		if stable < cfg.FlapWindow {
			f.count++
			flapped = true
		} else {
			f.count = f.decayed(now, cfg.FlapWindow)
		}
	}
	f.upSince = time.Time{}
	if f.count > 0 {
		f.heldUntil = now.Add(holdFor(f.count, time.Duration(cfg.Rise)*cfg.Interval, cfg.FlapHoldMax))
	}
	return flapped
}

// decayed is the count at now: halved for every whole window the edge has
// been up since upSince.
func (f *edgeFlap) decayed(now time.Time, window time.Duration) int {
	if f.upSince.IsZero() || window <= 0 {
		return f.count
	}
	halvings := now.Sub(f.upSince) / window
	if halvings >= 63 {
		return 0
	}
	return f.count >> halvings
}

// held returns when the hold-down ends, or zero if it is over at now.
func (f *edgeFlap) held(now time.Time) time.Time {
	if now.Before(f.heldUntil) {
		return f.heldUntil
	}
	return time.Time{}
}

// holdFor is base × 2^flaps, at most limit.
func holdFor(flaps int, base, limit time.Duration) time.Duration {
	d := max(base, time.Millisecond)
	for range flaps {
		if d >= limit {
			break
		}
		d *= 2
	}
	return min(d, limit)
}
