package origin

import (
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Labels are pool and upstream names from the topology, never request
// hosts or URLs.

type poolMetrics struct {
	checks *prometheus.CounterVec // pool, upstream, result
	health *healthCollector
}

type routerMetrics struct {
	requests  *prometheus.CounterVec // pool, upstream, result
	failovers *prometheus.CounterVec // pool
}

func newPoolMetrics(reg prometheus.Registerer, p *Pool) (*poolMetrics, error) {
	checks, err := counterVec(reg, "tern_upstream_checks_total",
		"Active health checks by result (pass, fail).", "pool", "upstream", "result")
	if err != nil {
		return nil, err
	}
	hc := &healthCollector{desc: prometheus.NewDesc("tern_upstream_healthy",
		"1 if the upstream is available (healthy by active checks and not held down by failed requests), else 0.",
		[]string{"pool", "upstream"}, nil)}
	if reg != nil {
		if err := reg.Register(hc); err != nil {
			var are prometheus.AlreadyRegisteredError
			old, ok := (*healthCollector)(nil), false
			if errors.As(err, &are) {
				old, ok = are.ExistingCollector.(*healthCollector)
			}
			if !ok {
				return nil, fmt.Errorf("registering tern_upstream_healthy: %w", err)
			}
			hc = old
		}
	}
	hc.add(p)
	return &poolMetrics{checks: checks, health: hc}, nil
}

func newRouterMetrics(reg prometheus.Registerer) (*routerMetrics, error) {
	requests, err := counterVec(reg, "tern_upstream_requests_total",
		"Requests sent to upstreams by result: ok (answered), failover (failed, the next upstream was tried), error (failed, returned).",
		"pool", "upstream", "result")
	if err != nil {
		return nil, err
	}
	failovers, err := counterVec(reg, "tern_upstream_failovers_total",
		"Times a request moved on from an upstream of the pool to the next candidate.", "pool")
	if err != nil {
		return nil, err
	}
	return &routerMetrics{requests: requests, failovers: failovers}, nil
}

// counterVec registers a counter vector with reg (nil: none), or returns
// the one already registered under the same name, so that several pools
// and routers (and a reloaded configuration) share one registry.
func counterVec(reg prometheus.Registerer, name, help string, labels ...string) (*prometheus.CounterVec, error) {
	cv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	if reg == nil {
		return cv, nil
	}
	if err := reg.Register(cv); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return old, nil
			}
		}
		return nil, fmt.Errorf("registering %s: %w", name, err)
	}
	return cv, nil
}

// healthCollector reports tern_upstream_healthy from Available at scrape
// time, so a hold-down that expires needs no timer to update a gauge. One
// collector per registry serves every open pool.
type healthCollector struct {
	desc  *prometheus.Desc
	mu    sync.Mutex
	pools []*Pool
}

func (c *healthCollector) add(p *Pool) {
	c.mu.Lock()
	c.pools = append(c.pools, p)
	c.mu.Unlock()
}

func (c *healthCollector) remove(p *Pool) {
	c.mu.Lock()
	for i, q := range c.pools {
		if q == p {
			c.pools = append(c.pools[:i:i], c.pools[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
}

func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	pools := c.pools[:len(c.pools):len(c.pools)]
	c.mu.Unlock()
	// During a reload two open pools may share a name: the newest wins.
	seen := make(map[[2]string]bool)
	for i := len(pools) - 1; i >= 0; i-- {
		p := pools[i]
		for _, u := range p.ups {
			k := [2]string{p.name, u.Name}
			if seen[k] {
				continue
			}
			seen[k] = true
			v := 0.0
			if u.Available() {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, p.name, u.Name)
		}
	}
}
