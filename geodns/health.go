package geodns

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tern-cdn/tern/origin/probe"
)

// HealthConfig tunes the active checks, made by a probe.Prober. Zero
// values take the defaults (those of Interval, Timeout, Rise and Fall are
// probe.Config's); negative values are an error.
// The topology's defaults for geo-DNS (configs.DNSHealth: a check a
// second, two to fall) fail a region over in under 5 s.
type HealthConfig struct {
	// Interval between the end of one check of an edge and the start of
	// the next, give or take the prober's jitter.
	Interval time.Duration
	// Timeout of one check, from dial to response headers.
	Timeout time.Duration
	// Rise is how many consecutive passes bring a down edge up.
	Rise int
	// Fall is how many consecutive failures take an up edge down.
	Fall int
	// FlapWindow: an edge that goes down after being up for less than
	// this has flapped; each flap doubles the time it is then held down
	// (see health_flap.go), and every FlapWindow it stays up halves its
	// count of flaps. Default 2m.
	FlapWindow time.Duration
	// FlapHoldMax caps the hold-down of a flapping edge. Default 5m.
	FlapHoldMax time.Duration
}

// withDefaults returns c with its defaults and the prober's configuration.
func (c HealthConfig) withDefaults() (HealthConfig, probe.Config, error) {
	if c.FlapWindow < 0 || c.FlapHoldMax < 0 {
		return c, probe.Config{}, fmt.Errorf("geodns: health config: negative flap window or flap hold: %+v", c)
	}
	pc, err := probe.Config{
		Interval: c.Interval, Timeout: c.Timeout, Rise: c.Rise, Fall: c.Fall,
		Expect:    probe.Codes{Min: 200, Max: 299},
		UserAgent: "tern-geodns-health-check",
	}.WithDefaults() // Start: unchecked, the first check decides
	if err != nil {
		return c, pc, fmt.Errorf("geodns: health config: %w", err)
	}
	c.Interval, c.Timeout, c.Rise, c.Fall = pc.Interval, pc.Timeout, pc.Rise, pc.Fall
	if c.FlapWindow == 0 {
		c.FlapWindow = 2 * time.Minute
	}
	if c.FlapHoldMax == 0 {
		c.FlapHoldMax = 5 * time.Minute
	}
	return c, pc, nil
}

// CheckedEdge is one edge to check.
type CheckedEdge struct {
	// Name is unique among all edges.
	Name string
	// Datacenter names the edge's CheckedDatacenter.
	Datacenter string
	// URL is checked with a GET (no redirects followed, no proxy), e.g.
	// http://127.0.1.1:9100/healthz; a 2xx status within Timeout passes.
	URL string
}

// CheckedDatacenter is one data center. It is up while it is not drained
// and at least MinUp of its edges are usable (up by checks, not drained).
// Until then, while counting the edges not checked yet would make MinUp,
// it is unchecked: no evidence either way.
type CheckedDatacenter struct {
	// Name is unique among all data centers.
	Name string
	// MinUp is how many usable edges keep the data center up. Default 1;
	// more than the data center has edges is an error. A data center
	// without edges (shields only) is always down.
	MinUp int
}

// HealthOptions holds a Health's dependencies.
type HealthOptions struct {
	// Logger gets every transition. Default slog.Default().
	Logger *slog.Logger
	// Registerer gets the tern_dns_* health metrics; nil: no metrics. It
	// must not hold them already (registering twice panics, as promauto
	// does).
	Registerer prometheus.Registerer
	// OnChange, if set, is called after every change of an edge's usable
	// state or a data center's up state (drains included), once State
	// shows it. Calls never overlap and never hold a lock of the Health,
	// so OnChange may call State, Status and SetDrain. Changes made while
	// it runs are coalesced into one more call. It runs on the goroutine
	// of a check or of SetDrain, so it should be quick.
	OnChange func()
}

// Drain kinds, the values of SetDrain's kind.
const (
	DrainEdge       = "edge"
	DrainDatacenter = "datacenter"
)

// Check results, the values of the "result" label of checks_total.
const (
	healthPass = "pass"
	healthFail = "fail"
)

// Health checks every edge's health URL and keeps the state of edges and
// data centers: up by checks, drained by operators, usable. Build it with
// NewHealth, run the checks with Run, read the state with State.
type Health struct {
	cfg      HealthConfig
	log      *slog.Logger
	onChange func()
	now      func() time.Time // Testing.

	idx    *healthIndex
	edges  []*healthEdge
	dcs    []*healthDC
	prober *probe.Prober
	m      *healthMetrics

	pending atomic.Int64 // OnChange requests; > 0 while one runs
	state   atomic.Pointer[HealthState]

	mu sync.Mutex // guards the mutable fields of edges and dcs, and publishing state
}

// healthIndex maps names to positions; shared by every HealthState.
type healthIndex struct {
	edges map[string]int
	dcs   map[string]int
}

type healthEdge struct {
	name string
	dc   int
	url  string

	// Guarded by Health.mu; checked, healthy, passes and fails copy
	// the prober's verdicts. An edge is unchecked (not healthy, not down)
	// until its first check ends, which decides its state.
	checked, healthy, drained bool
	passes, fails             int
	lastErr                   string
	lastCheck, since          time.Time
	flap                      edgeFlap

	mHealthy, mDrained, mHeld    prometheus.Gauge // mHealthy: set by the prober
	mDowns, mPass, mFail, mFlaps prometheus.Counter
}

type healthDC struct {
	name  string
	minUp int
	edges []int

	drained bool // guarded by Health.mu

	mUp, mDrained prometheus.Gauge
	mFailovers    prometheus.Counter
}

// NewHealth returns a Health for the data centers and edges. It reports an
// edge that names an unknown data center, duplicate or empty names, a URL
// that is not an absolute http or https URL, and a MinUp above the data
// center's edge count. Every edge starts unchecked: neither usable nor
// down until its first check ends (see HealthState).
func NewHealth(cfg HealthConfig, dcs []CheckedDatacenter, edges []CheckedEdge, opts HealthOptions) (*Health, error) {
	cfg, pc, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	h := &Health{
		cfg:      cfg,
		log:      opts.Logger,
		onChange: opts.OnChange,
		now:      time.Now,
		idx:      &healthIndex{edges: make(map[string]int, len(edges)), dcs: make(map[string]int, len(dcs))},
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	for i, d := range dcs {
		if d.Name == "" {
			return nil, fmt.Errorf("geodns: health: datacenter %d has no name", i)
		}
		if _, dup := h.idx.dcs[d.Name]; dup {
			return nil, fmt.Errorf("geodns: health: duplicate datacenter %q", d.Name)
		}
		if d.MinUp < 0 {
			return nil, fmt.Errorf("geodns: health: datacenter %q: negative min_up %d", d.Name, d.MinUp)
		}
		h.idx.dcs[d.Name] = i
		h.dcs = append(h.dcs, &healthDC{name: d.Name, minUp: max(d.MinUp, 1)})
	}
	start := h.now()
	for i, e := range edges {
		if e.Name == "" {
			return nil, fmt.Errorf("geodns: health: edge %d has no name", i)
		}
		if _, dup := h.idx.edges[e.Name]; dup {
			return nil, fmt.Errorf("geodns: health: duplicate edge %q", e.Name)
		}
		dc, ok := h.idx.dcs[e.Datacenter]
		if !ok {
			return nil, fmt.Errorf("geodns: health: edge %q: unknown datacenter %q", e.Name, e.Datacenter)
		}
		u, err := probe.ParseURL(e.URL)
		if err != nil {
			return nil, fmt.Errorf("geodns: health: edge %q: %w", e.Name, err)
		}
		h.idx.edges[e.Name] = i
		h.dcs[dc].edges = append(h.dcs[dc].edges, i)
		h.edges = append(h.edges, &healthEdge{name: e.Name, dc: dc, url: u.String(), since: start})
	}
	for _, d := range h.dcs {
		if d.minUp > max(len(d.edges), 1) {
			return nil, fmt.Errorf("geodns: health: datacenter %q: min_up %d but %d edges", d.name, d.minUp, len(d.edges))
		}
	}

	// Valid: register the metrics and make every series, so that each
	// exists from the start.
	h.m = newHealthMetrics(opts.Registerer)
	for _, d := range h.dcs {
		d.mUp = h.m.dcUp.WithLabelValues(d.name)
		d.mDrained = h.m.dcDrained.WithLabelValues(d.name)
		d.mFailovers = h.m.failovers.WithLabelValues(d.name)
		d.mDrained.Set(0)
		d.mFailovers.Add(0)
	}
	for _, e := range h.edges {
		dc := h.dcs[e.dc].name
		e.mHealthy = h.m.edgeHealthy.WithLabelValues(dc, e.name)
		e.mDrained = h.m.edgeDrained.WithLabelValues(dc, e.name)
		e.mDowns = h.m.edgeDowns.WithLabelValues(dc, e.name)
		e.mPass = h.m.checks.WithLabelValues(e.name, healthPass)
		e.mFail = h.m.checks.WithLabelValues(e.name, healthFail)
		e.mFlaps = h.m.edgeFlaps.WithLabelValues(dc, e.name)
		e.mHeld = h.m.edgeHeld.WithLabelValues(dc, e.name)
		e.mHealthy.Set(0)
		e.mFlaps.Add(0)
		e.mHeld.Set(0)
		e.mDrained.Set(0)
		e.mDowns.Add(0)
		e.mPass.Add(0)
		e.mFail.Add(0)
	}
	if h.prober, err = h.newProber(pc); err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.publishLocked()
	h.mu.Unlock()
	return h, nil
}

// newProber returns the prober of the edges: it records every check
// (record) and holds a flapping edge down (held).
func (h *Health) newProber(pc probe.Config) (*probe.Prober, error) {
	targets := make([]probe.Target, len(h.edges))
	for i, e := range h.edges {
		targets[i] = probe.Target{Name: e.name, URL: e.url, Pass: e.mPass, Fail: e.mFail, Up: e.mHealthy}
	}
	p, err := probe.New(pc, targets, probe.Options{
		Logger:  h.log,
		Hold:    func(i int) bool { return h.held(h.edges[i]) },
		OnCheck: func(c probe.Check) { h.record(h.edges[c.Target], c) },
	})
	if err != nil {
		return nil, fmt.Errorf("geodns: health: %w", err)
	}
	return p, nil
}

// Run checks every edge until ctx ends: a goroutine per edge checks at
// once, then again Interval (give or take a jitter) after each check ends.
// It returns nil after all its goroutines have stopped and its idle
// connections are closed; at once if there are no edges. Run may be
// called only once.
func (h *Health) Run(ctx context.Context) error {
	if err := h.prober.Run(ctx); err != nil {
		return fmt.Errorf("geodns: health: %w", err)
	}
	return nil
}

// held reports whether e is held down for flapping: passing checks do not
// bring it up before its hold-down ends.
func (h *Health) held(e *healthEdge) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now().Before(e.flap.heldUntil)
}

// healthLog is a log record made under Health.mu and written after.
type healthLog struct {
	level slog.Level
	msg   string
	args  []any
}

// record takes in the prober's check of e: the first check decides its
// health; after that Rise passes or Fall failures in a row flip it,
// except that a flapping edge stays down until its hold-down ends (held).
func (h *Health) record(e *healthEdge, c probe.Check) {
	now := h.now()
	var logs []healthLog
	h.mu.Lock()
	e.lastCheck, e.lastErr = now, c.Why
	e.passes, e.fails = c.Passes, c.Fails
	changed := false
	if c.Changed() {
		e.checked = true
		logs = append(logs, h.flipLocked(e, now, c.Why))
		var more []healthLog
		changed, more = h.publishLocked()
		logs = append(logs, more...)
	}
	e.mHeld.Set(healthFloat(now.Before(e.flap.heldUntil)))
	h.mu.Unlock()
	h.emit(logs)
	if changed {
		h.notify()
	}
}

// flipLocked turns e up (why empty) or down and returns the log of it.
// h.mu must be held.
func (h *Health) flipLocked(e *healthEdge, now time.Time, why string) healthLog {
	dc := h.dcs[e.dc].name
	if why == "" {
		e.healthy, e.since = true, now
		e.flap.up(now)
		return healthLog{slog.LevelInfo, "edge up", []any{"datacenter", dc, "edge", e.name, "passes", e.passes}}
	}
	e.healthy, e.since = false, now
	e.mDowns.Inc()
	args := []any{"datacenter", dc, "edge", e.name, "fails", e.fails, "error", why}
	if flapped := e.flap.down(now, h.cfg); flapped {
		e.mFlaps.Inc()
		args = append(args, "flaps", e.flap.count, "held_until", e.flap.heldUntil.UTC())
	}
	return healthLog{slog.LevelWarn, "edge down", args}
}

// SetDrain takes an edge or a data center (kind DrainEdge or
// DrainDatacenter) out of answers, or with drained false puts it back. A
// drained edge is not usable; a drained data center is down and none of
// its edges is usable, whatever the checks say. Checks go on while
// drained. Setting the state it already has does nothing.
func (h *Health) SetDrain(kind, name string, drained bool) error {
	word := "undrained"
	if drained {
		word = "drained"
	}
	now := h.now()
	var logs []healthLog
	h.mu.Lock()
	switch kind {
	case DrainEdge:
		i, ok := h.idx.edges[name]
		if !ok {
			h.mu.Unlock()
			return fmt.Errorf("geodns: drain: unknown edge %q", name)
		}
		e := h.edges[i]
		if e.drained == drained {
			h.mu.Unlock()
			return nil
		}
		e.drained, e.since = drained, now
		e.mDrained.Set(healthFloat(drained))
		logs = append(logs, healthLog{slog.LevelInfo, "edge " + word, []any{
			"datacenter", h.dcs[e.dc].name, "edge", e.name}})
	case DrainDatacenter:
		i, ok := h.idx.dcs[name]
		if !ok {
			h.mu.Unlock()
			return fmt.Errorf("geodns: drain: unknown datacenter %q", name)
		}
		d := h.dcs[i]
		if d.drained == drained {
			h.mu.Unlock()
			return nil
		}
		d.drained = drained
		d.mDrained.Set(healthFloat(drained))
		logs = append(logs, healthLog{slog.LevelInfo, "datacenter " + word, []any{"datacenter", d.name}})
	default:
		h.mu.Unlock()
		return fmt.Errorf("geodns: drain: unknown kind %q (want %q or %q)", kind, DrainEdge, DrainDatacenter)
	}
	changed, more := h.publishLocked()
	h.mu.Unlock()
	h.emit(append(logs, more...))
	if changed {
		h.notify()
	}
	return nil
}

// publishLocked computes which edges are usable and which data centers
// up, and if that differs from the current state stores a new one,
// updates the data center metrics and returns the logs of the data center
// transitions. h.mu must be held.
func (h *Health) publishLocked() (changed bool, logs []healthLog) {
	old := h.state.Load()
	s := &HealthState{
		idx:           h.idx,
		edgeUsable:    make([]bool, len(h.edges)),
		edgeUnchecked: make([]bool, len(h.edges)),
		dcUp:          make([]bool, len(h.dcs)),
		dcUnchecked:   make([]bool, len(h.dcs)),
		version:       1,
	}
	for i, e := range h.edges {
		avail := !e.drained && !h.dcs[e.dc].drained
		s.edgeUsable[i] = avail && e.checked && e.healthy
		s.edgeUnchecked[i] = avail && !e.checked
	}
	for i, d := range h.dcs {
		n, u := d.usable(s), d.unchecked(s)
		s.dcUp[i] = !d.drained && n >= d.minUp
		s.dcUnchecked[i] = !s.dcUp[i] && !d.drained && u > 0 && n+u >= d.minUp
		if old == nil {
			d.mUp.Set(healthFloat(s.dcUp[i]))
			continue
		}
		if old.dcUnchecked[i] && !s.dcUp[i] && !s.dcUnchecked[i] && !d.drained {
			logs = append(logs, healthLog{slog.LevelError, "datacenter down", []any{
				"datacenter", d.name, "reason", "first checks failed", "edges_usable", n, "min_up", d.minUp}})
		}
		switch was := old.dcUp[i]; {
		case !was && s.dcUp[i]:
			d.mUp.Set(1)
			logs = append(logs, healthLog{slog.LevelInfo, "datacenter up", []any{
				"datacenter", d.name, "edges_usable", n, "min_up", d.minUp}})
		case was && !s.dcUp[i]:
			d.mUp.Set(0)
			d.mFailovers.Inc()
			lvl, reason := slog.LevelError, "too few usable edges"
			if d.drained {
				lvl, reason = slog.LevelWarn, "drained"
			}
			var unusable []string
			for _, j := range d.edges {
				if !s.edgeUsable[j] {
					unusable = append(unusable, h.edges[j].name)
				}
			}
			logs = append(logs, healthLog{lvl, "datacenter down", []any{
				"datacenter", d.name, "reason", reason, "edges_usable", n, "min_up", d.minUp,
				"unusable_edges", unusable}})
		}
	}
	if old != nil {
		if healthSameBools(old.edgeUsable, s.edgeUsable) && healthSameBools(old.dcUp, s.dcUp) &&
			healthSameBools(old.edgeUnchecked, s.edgeUnchecked) && healthSameBools(old.dcUnchecked, s.dcUnchecked) {
			return false, logs
		}
		s.version = old.version + 1
	}
	h.state.Store(s)
	return old != nil, logs
}

func (d *healthDC) usable(s *HealthState) int { return healthCount(d.edges, s.edgeUsable) }

func (d *healthDC) unchecked(s *HealthState) int { return healthCount(d.edges, s.edgeUnchecked) }

// healthCount counts the edges whose flag is set.
func healthCount(edges []int, flag []bool) int {
	n := 0
	for _, j := range edges {
		if flag[j] {
			n++
		}
	}
	return n
}

func (h *Health) emit(logs []healthLog) {
	for _, l := range logs {
		h.log.Log(context.Background(), l.level, l.msg, l.args...)
	}
}

// notify calls OnChange, never twice at once: a caller that finds a call
// running leaves it to that call's goroutine to call again.
func (h *Health) notify() {
	if h.onChange == nil || h.pending.Add(1) > 1 {
		return
	}
	done := false
	defer func() {
		if !done { // OnChange panicked: let the next change call it again
			h.pending.Store(0)
		}
	}()
	for {
		h.onChange()
		if h.pending.CompareAndSwap(1, 0) {
			done = true
			return
		}
		h.pending.Store(1)
	}
}
