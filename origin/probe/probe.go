package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Target is one endpoint to check.
type Target struct {
	// Name identifies the target in logs; the hooks get it back.
	Name string
	// URL is requested with a GET (no redirects followed): an absolute
	// http or https URL (see ParseURL).
	URL string
	// Host, if set, is the Host header of the checks instead of the URL's
	// host (a virtual host on an address).
	Host string

	// The target's metrics, each optional; the caller names and labels
	// them. Pass and Fail count checks by result; Up is 1 while the
	// target is Up, else 0.
	Pass, Fail prometheus.Counter
	Up         prometheus.Gauge
}

// Check is one finished check of a target, as the hooks see it.
type Check struct {
	// Target is the index of the target in the slice given to New.
	Target int
	Name   string
	// Why the check failed; "" if it passed.
	Why string
	// Passes and Fails are the consecutive passes and failures, this
	// check included: one of them is zero.
	Passes, Fails int
	// From and To are the target's state before and after the check.
	From, To State
}

// Passed reports whether the check passed.
func (c Check) Passed() bool { return c.Why == "" }

// Changed reports whether the check changed the target's state.
func (c Check) Changed() bool { return c.From != c.To }

// Options holds a Prober's dependencies and hooks. The hooks of one
// target are called in order from the goroutine that checks it, never
// under a lock of the Prober; those of different targets may run at
// once. They should be quick: the next check waits for them.
type Options struct {
	// Transport carries the checks. Default: one of the Prober's own
	// (no proxy, dial and TLS handshake within Timeout, one idle
	// connection per host), whose idle connections Run closes on return.
	Transport http.RoundTripper
	// Logger gets panics of checks and hooks. Default slog.Default().
	Logger *slog.Logger
	// Hold, if set, is asked at each pass of a Down target that has
	// passed at least Rise checks in a row: true keeps it Down for now
	// (flap damping). Its passes go on counting, so it comes Up at the
	// first passing check for which Hold says false.
	Hold func(target int) bool
	// OnCheck, if set, gets every check that counted: not one cut short
	// by the end of Run's context.
	OnCheck func(Check)
	// OnChange, if set, gets every check that changed its target's state,
	// after OnCheck.
	OnChange func(Check)
}

// Prober checks targets over HTTP, each in its own goroutine, and keeps
// their state by Rise and Fall. Build it with New, run it with Run.
type Prober struct {
	cfg       Config
	opts      Options
	log       *slog.Logger
	transport http.RoundTripper
	owned     *http.Transport // the transport New made, closed by Run
	targets   []*target
	ran       atomic.Bool
}

// target is a Target with its state, which only its own goroutine in Run
// reads and writes.
type target struct {
	Target
	index         int
	state         State
	passes, fails int
}

// New returns a Prober of targets. It reports a bad Config (see
// Config.WithDefaults) and a target URL that ParseURL refuses.
func New(cfg Config, targets []Target, opts Options) (*Prober, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	p := &Prober{cfg: cfg, opts: opts, log: opts.Logger, transport: opts.Transport}
	if p.log == nil {
		p.log = slog.Default()
	}
	for i, t := range targets {
		if _, err := ParseURL(t.URL); err != nil {
			return nil, fmt.Errorf("probe: target %q: %w", t.Name, err)
		}
		p.targets = append(p.targets, &target{Target: t, index: i, state: cfg.Start})
		if t.Up != nil {
			t.Up.Set(upValue(cfg.Start))
		}
	}
	if p.transport == nil {
		p.owned = &http.Transport{
			Proxy:               nil, // never a proxy from the environment
			DialContext:         (&net.Dialer{Timeout: cfg.Timeout}).DialContext,
			TLSHandshakeTimeout: cfg.Timeout,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     2*cfg.Interval + cfg.Timeout,
			DisableCompression:  true,
		}
		p.transport = p.owned
	}
	return p, nil
}

// ParseURL parses a check URL: an absolute http or https URL with a host.
func ParseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("bad check URL %q: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bad check URL %q: not an absolute http or https URL", s)
	}
	return u, nil
}

// Config returns the configuration with its defaults.
func (p *Prober) Config() Config { return p.cfg }

// Run checks every target until ctx ends: each at once, then again
// Interval (give or take Jitter) after each check ends. It returns after
// all its goroutines have stopped and, if the Prober made its transport,
// its idle connections are closed; at once if there are no targets. Run
// may be called only once.
func (p *Prober) Run(ctx context.Context) error {
	if !p.ran.CompareAndSwap(false, true) {
		return errors.New("probe: Run called more than once")
	}
	if p.owned != nil {
		defer p.owned.CloseIdleConnections()
	}
	var wg sync.WaitGroup
	for _, t := range p.targets {
		wg.Go(func() { p.loop(ctx, t) })
	}
	wg.Wait()
	return nil
}

func (p *Prober) loop(ctx context.Context, t *target) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		p.safeCheck(ctx, t)
		timer.Reset(p.wait())
	}
}

// wait is the time to the next check: Interval × (1 ± up to Jitter).
func (p *Prober) wait() time.Duration {
	d := p.cfg.Interval
	if p.cfg.Jitter > 0 {
		d += time.Duration(float64(d) * p.cfg.Jitter * (2*rand.Float64() - 1))
	}
	return d
}

// safeCheck runs one check and records it, logging a panic (of the check
// or of a hook) instead of ending the target's checks.
func (p *Prober) safeCheck(ctx context.Context, t *target) {
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("health check panicked", "target", t.Name,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
	why := p.check(ctx, t)
	if ctx.Err() != nil {
		return // shutting down: not the target's fault
	}
	p.record(t, why)
}

// check GETs t's URL and returns why it failed, "" if it passed.
func (p *Prober) check(ctx context.Context, t *target) string {
	cctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return err.Error()
	}
	if t.Host != "" {
		req.Host = t.Host
	}
	req.Header.Set("User-Agent", p.cfg.UserAgent)
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		if errors.Is(cctx.Err(), context.DeadlineExceeded) {
			return fmt.Sprintf("no response headers within %v", p.cfg.Timeout)
		}
		return err.Error()
	}
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if !p.cfg.Expect.Has(resp.StatusCode) {
		return "status " + resp.Status
	}
	return ""
}

// record counts a check of t, moves its state (the first check decides an
// Unchecked one; after that Rise passes or Fall failures in a row flip it,
// unless Hold keeps it down) and calls the hooks.
func (p *Prober) record(t *target, why string) {
	c := Check{Target: t.index, Name: t.Name, Why: why, From: t.state}
	if c.Passed() {
		t.passes, t.fails = t.passes+1, 0
		inc(t.Pass)
	} else {
		t.passes, t.fails = 0, t.fails+1
		inc(t.Fail)
	}
	switch {
	case t.state == Unchecked && c.Passed():
		t.state = Up
	case t.state == Unchecked:
		t.state = Down
	case t.state == Down && t.passes >= p.cfg.Rise:
		if p.opts.Hold == nil || !p.opts.Hold(t.index) {
			t.state = Up
		}
	case t.state == Up && t.fails >= p.cfg.Fall:
		t.state = Down
	}
	c.To, c.Passes, c.Fails = t.state, t.passes, t.fails
	if t.Up != nil && c.Changed() {
		t.Up.Set(upValue(t.state))
	}
	if p.opts.OnCheck != nil {
		p.opts.OnCheck(c)
	}
	if p.opts.OnChange != nil && c.Changed() {
		p.opts.OnChange(c)
	}
}

func inc(c prometheus.Counter) {
	if c != nil {
		c.Inc()
	}
}

func upValue(s State) float64 {
	if s == Up {
		return 1
	}
	return 0
}
