// Package probe is Tern's one active health prober, used by the cache
// nodes for their shields and origins (origin.Pool) and by geo-DNS for the
// edges (geodns.Health).
//
// A Prober GETs each target's URL in a goroutine of its own: at once, then
// Interval (give or take Jitter) after each check ends. A check passes when
// the response headers come within Timeout with a status in Expect. Each
// target is Unchecked until its first check ends, which decides it (or it
// starts Up or Down, as Config.Start says); after that Rise passes or Fall
// failures in a row flip it. Hooks see every check (OnCheck) and every
// change of state (OnChange), and may keep a recovering target down
// (Hold: geo-DNS's flap damping). Metrics are the caller's: each Target
// carries its own pass and fail counters and up gauge, so every role keeps
// its metric names and labels.
//
// The defaults (Config) are documented once, here; what is not a loop's
// concern stays with its caller: passive health (failed requests) in
// origin, drains, data centers and flap damping in geodns.
package probe
