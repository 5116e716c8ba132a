package probe

import (
	"fmt"
	"time"
)

// Config tunes a Prober. Zero values take the defaults noted; these are
// the only defaults of Tern's active health checks (the topology file sets
// its own for each role, see configs).
type Config struct {
	// Interval between the end of one check of a target and the start of
	// the next, give or take Jitter. Default 2s.
	Interval time.Duration
	// Timeout of one check, from dial to response headers. Default 1s.
	Timeout time.Duration
	// Rise is how many consecutive passes bring a down target up; Fall
	// how many consecutive failures take an up target down. Defaults 2
	// and 3.
	Rise, Fall int
	// Jitter spreads the checks of many targets (and of many nodes
	// checking one target): each wait is Interval × (1 ± up to Jitter),
	// drawn uniformly. Default 0.1; at most 1; negative: none.
	Jitter float64
	// Expect is the range of status codes that pass, inclusive. Default
	// 200–399.
	Expect Codes
	// Start is every target's state before its first check. Default
	// Unchecked: the first check decides, pass or fail. Up (or Down)
	// needs Fall failures (or Rise passes) in a row to change.
	Start State
	// UserAgent of the checks. Default "tern-health-check".
	UserAgent string
}

// Codes is an inclusive range of HTTP status codes.
type Codes struct{ Min, Max int }

// Has reports whether code is in the range.
func (c Codes) Has(code int) bool { return c.Min <= code && code <= c.Max }

// The defaults, documented on Config.
const (
	DefaultInterval  = 2 * time.Second
	DefaultTimeout   = time.Second
	DefaultRise      = 2
	DefaultFall      = 3
	DefaultJitter    = 0.1
	DefaultUserAgent = "tern-health-check"
)

// DefaultExpect is the default Config.Expect: 2xx and 3xx pass.
var DefaultExpect = Codes{200, 399}

// WithDefaults returns c with its zero fields set to the defaults, or an
// error for a negative interval, timeout, rise or fall, a jitter above 1,
// an empty or inverted Expect range or an unknown Start.
func (c Config) WithDefaults() (Config, error) {
	if c.Interval < 0 || c.Timeout < 0 || c.Rise < 0 || c.Fall < 0 {
		return c, fmt.Errorf("probe: negative interval, timeout, rise or fall: %+v", c)
	}
	if c.Jitter > 1 {
		return c, fmt.Errorf("probe: jitter %v above 1", c.Jitter)
	}
	if c.Start != Unchecked && c.Start != Up && c.Start != Down {
		return c, fmt.Errorf("probe: unknown start state %d", c.Start)
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Rise == 0 {
		c.Rise = DefaultRise
	}
	if c.Fall == 0 {
		c.Fall = DefaultFall
	}
	switch {
	case c.Jitter == 0:
		c.Jitter = DefaultJitter
	case c.Jitter < 0:
		c.Jitter = 0
	}
	if c.Expect == (Codes{}) {
		c.Expect = DefaultExpect
	}
	if c.Expect.Min < 100 || c.Expect.Max > 599 || c.Expect.Min > c.Expect.Max {
		return c, fmt.Errorf("probe: expected status codes %d–%d are not a range of HTTP codes", c.Expect.Min, c.Expect.Max)
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	return c, nil
}

// State is a target's health by its checks.
type State int8

// States of a target.
const (
	// Unchecked: no check has ended yet, so no evidence either way.
	Unchecked State = iota
	Up
	Down
)

func (s State) String() string {
	switch s {
	case Unchecked:
		return "unchecked"
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return fmt.Sprintf("State(%d)", int8(s))
}
