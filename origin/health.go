package origin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"sync"
	"time"
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

	// Active health: an HTTP GET of each upstream's CheckURL; a 2xx answer
	// within Timeout passes. Only upstreams with a CheckURL are checked.

	// CheckPath is the path requested when a CheckURL has none. Default
	// "/healthz".
	CheckPath string
	// Interval between checks. Default 2s; negative turns active checks
	// off even for upstreams with a CheckURL.
	Interval time.Duration
	// Timeout of one check, from dial to response headers. Default 1s.
	Timeout time.Duration
	// Rise is how many consecutive passes bring an unhealthy upstream
	// back; Fall how many consecutive failures make a healthy one
	// unhealthy. Defaults 2 and 3. Upstreams start healthy.
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
	if hc.Interval == 0 {
		hc.Interval = 2 * time.Second
	}
	if hc.Timeout <= 0 {
		hc.Timeout = time.Second
	}
	if hc.Rise <= 0 {
		hc.Rise = 2
	}
	if hc.Fall <= 0 {
		hc.Fall = 3
	}
	return hc
}

// Check results, the values of the "result" label of checks_total.
const (
	checkPass = "pass"
	checkFail = "fail"
)

// Run performs the pool's active checks until ctx ends or the pool is
// closed; call it in a goroutine. The first round starts at once. It
// returns at once when no upstream has a CheckURL.
func (p *Pool) Run(ctx context.Context) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.runs.Add(1)
	p.mu.Unlock()
	defer p.runs.Done()

	var checked []*Upstream
	for _, u := range p.ups {
		if u.checkURL != nil {
			checked = append(checked, u)
		}
	}
	if len(checked) == 0 || p.hc.Interval < 0 {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(p.closing, cancel)()

	tick := time.NewTicker(p.hc.Interval)
	defer tick.Stop()
	for {
		p.checkAll(ctx, checked)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// checkAll checks every upstream at once and waits for all of them, so a
// round lasts at most Timeout.
func (p *Pool) checkAll(ctx context.Context, ups []*Upstream) {
	var wg sync.WaitGroup
	for _, u := range ups {
		wg.Go(func() {
			defer func() {
				if v := recover(); v != nil {
					p.log.Error("origin: health check panicked", "pool", p.name, "upstream", u.Name,
						"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				}
			}()
			p.check(ctx, u)
		})
	}
	wg.Wait()
}

// check runs one active check of u and records it.
func (p *Pool) check(ctx context.Context, u *Upstream) {
	cctx, cancel := context.WithTimeout(ctx, p.hc.Timeout)
	defer cancel()
	why := ""
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, u.checkURL.String(), nil)
	if err == nil {
		req.Header.Set("User-Agent", "tern-health-check")
		var resp *http.Response
		if resp, err = p.transport.RoundTrip(req); err == nil {
			// Drain a little so the connection can be reused.
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				why = resp.Status
			}
		}
	}
	if err != nil {
		why = err.Error()
	}
	if ctx.Err() != nil {
		return // shutting down: not the upstream's fault
	}
	p.recordCheck(u, why == "", why)
}

// recordCheck counts a check and flips u's health after Rise passes or
// Fall failures in a row.
func (p *Pool) recordCheck(u *Upstream, pass bool, why string) {
	if pass {
		p.m.checks.WithLabelValues(p.name, u.Name, checkPass).Inc()
		u.checkFails.Store(0)
		if n := u.passes.Add(1); n >= int64(p.hc.Rise) && u.unhealthy.Load() {
			u.unhealthy.Store(false)
			p.log.Info("upstream healthy", "pool", p.name, "upstream", u.Name, "passes", n)
		}
		return
	}
	p.m.checks.WithLabelValues(p.name, u.Name, checkFail).Inc()
	u.passes.Store(0)
	if n := u.checkFails.Add(1); n >= int64(p.hc.Fall) && !u.unhealthy.Load() {
		u.unhealthy.Store(true)
		p.log.Warn("upstream unhealthy", "pool", p.name, "upstream", u.Name, "fails", n, "last", why)
	}
}
