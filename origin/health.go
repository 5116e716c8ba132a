package origin

import (
	"context"
	"time"

	"github.com/tern-cdn/tern/origin/probe"
)

// HealthConfig tunes passive and active health. Zero values take the
// defaults noted.
type HealthConfig struct {
	// Passive health: failed requests, counted by the Router.

	// MaxFails is how many consecutive failed requests hold an upstream
	// down. Any success resets the count. Default 3; negative turns
	// passive hold-downs off.
	MaxFails int
	// FailBackoff is the first hold-down. When it ends the upstream is
	// half-open: one probe request may go to it; a success brings it back,
	// a failure holds it down again for twice as long. Default 1s.
	FailBackoff time.Duration
	// MaxBackoff caps the doubling hold-down. Default 30s (at least
	// FailBackoff).
	MaxBackoff time.Duration

	// Active health: an HTTP GET of each upstream's CheckURL by a
	// probe.Prober; a 2xx answer within Timeout passes. Only upstreams
	// with a CheckURL are checked. Upstreams start healthy: Fall failed
	// checks in a row make one unhealthy, Rise passes bring it back.

	// CheckPath is the path requested when a CheckURL has none. Default
	// "/healthz".
	CheckPath string
	// Interval between checks; negative turns active checks off even for
	// upstreams with a CheckURL. Interval, Timeout, Rise and Fall, when
	// zero (or, but for Interval, negative), take probe.Config's
	// defaults.
	Interval time.Duration
	// Timeout of one check, from dial to response headers.
	Timeout time.Duration
	// Rise is how many consecutive passes bring an unhealthy upstream
	// back; Fall how many consecutive failures make a healthy one
	// unhealthy.
	Rise, Fall int
}

func (hc HealthConfig) withDefaults() HealthConfig {
	if hc.MaxFails == 0 {
		hc.MaxFails = 3
	}
	if hc.FailBackoff <= 0 {
		hc.FailBackoff = time.Second
	}
	if hc.MaxBackoff <= 0 {
		hc.MaxBackoff = 30 * time.Second
	}
	hc.MaxBackoff = max(hc.MaxBackoff, hc.FailBackoff)
	if hc.CheckPath == "" {
		hc.CheckPath = "/healthz"
	}
	// The prober's defaults fill the rest; it refuses negatives, which
	// here have always meant "default".
	hc.Timeout, hc.Rise, hc.Fall = max(hc.Timeout, 0), max(hc.Rise, 0), max(hc.Fall, 0)
	return hc
}

// probeConfig is the prober's configuration for active checks.
func (hc HealthConfig) probeConfig() probe.Config {
	return probe.Config{
		Interval: hc.Interval, Timeout: hc.Timeout, Rise: hc.Rise, Fall: hc.Fall,
		Expect: probe.Codes{Min: 200, Max: 299},
		Start:  probe.Up,
	}
}

// Check results, the values of the "result" label of checks_total.
const (
	checkPass = "pass"
	checkFail = "fail"
)

// newProber returns the prober of p's upstreams that have a CheckURL, or
// nil if there are none or active checks are off.
func (p *Pool) newProber() (*probe.Prober, error) {
	var checked []*Upstream
	var targets []probe.Target
	for _, u := range p.ups {
		if u.checkURL == nil {
			continue
		}
		checked = append(checked, u)
		targets = append(targets, probe.Target{
			Name: u.Name, URL: u.checkURL.String(),
			Pass: p.m.checks.WithLabelValues(p.name, u.Name, checkPass),
			Fail: p.m.checks.WithLabelValues(p.name, u.Name, checkFail),
		})
	}
	if len(targets) == 0 || p.hc.Interval < 0 {
		return nil, nil
	}
	return probe.New(p.hc.probeConfig(), targets, probe.Options{
		Transport: p.transport,
		Logger:    p.log,
		OnChange:  func(c probe.Check) { p.flip(checked[c.Target], c) },
	})
}

// flip records an active checks' verdict on u.
func (p *Pool) flip(u *Upstream, c probe.Check) {
	if c.To == probe.Up {
		u.unhealthy.Store(false)
		p.log.Info("upstream healthy", "pool", p.name, "upstream", u.Name, "passes", c.Passes)
		return
	}
	u.unhealthy.Store(true)
	p.log.Warn("upstream unhealthy", "pool", p.name, "upstream", u.Name, "fails", c.Fails, "last", c.Why)
}

// Run performs the pool's active checks until ctx ends or the pool is
// closed; call it in a goroutine, once. The first checks start at once.
// It returns at once when no upstream has a CheckURL.
func (p *Pool) Run(ctx context.Context) {
	p.mu.Lock()
	if p.closed || p.prober == nil {
		p.mu.Unlock()
		return
	}
	p.runs.Add(1)
	p.mu.Unlock()
	defer p.runs.Done()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(p.closing, cancel)()
	if err := p.prober.Run(ctx); err != nil {
		p.log.Error("origin: active health checks", "pool", p.name, "error", err)
	}
}
