package origin

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tern-cdn/tern/origin/probe"
)

// UpstreamConfig describes one upstream of a pool.
type UpstreamConfig struct {
	// Name identifies the upstream (metrics, logs, rendezvous hashing);
	// unique in its pool. Default: the URL's host.
	Name string
	// URL is the base, scheme://host[:port] (http or https, no path).
	URL string
	// CheckURL is the active health check's URL, e.g.
	// http://127.0.0.1:9101/healthz; a URL without a path gets
	// HealthConfig.CheckPath. "" means no active checks.
	CheckURL string
}

// Pool is an ordered set of upstreams sharing a health configuration. Its
// active checks run in Run, one goroutine per checked upstream, until the
// context ends or Close.
type Pool struct {
	name      string
	ups       []*Upstream
	hc        HealthConfig
	transport http.RoundTripper
	owned     *http.Transport // the transport NewPool made, closed by Close
	log       *slog.Logger
	m         *poolMetrics
	prober    *probe.Prober    // active checks; nil: none
	now       func() time.Time // Testing.

	mu      sync.Mutex
	closed  bool
	closing context.Context // done on Close
	close   context.CancelFunc
	runs    sync.WaitGroup
}

// NewPool returns a pool named name (a metrics label: a node or site name,
// never a request's host) over ups, in order. transport carries the active
// checks (nil: a NewTransport default, closed by Close); reg (nil: none)
// gets the pool's metrics; log may be nil.
func NewPool(name string, ups []UpstreamConfig, hc HealthConfig, transport http.RoundTripper, reg prometheus.Registerer, log *slog.Logger) (*Pool, error) {
	if name == "" {
		return nil, fmt.Errorf("origin: a pool needs a name")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Pool{name: name, hc: hc.withDefaults(), transport: transport, log: log, now: time.Now}
	if transport == nil {
		t := NewTransport(TransportConfig{})
		p.transport, p.owned = t, t
	}
	seen := make(map[string]bool, len(ups))
	for _, c := range ups {
		base, err := parseBase(c.URL)
		if err != nil {
			return nil, fmt.Errorf("origin: pool %q: upstream %q: %w", name, c.Name, err)
		}
		u := &Upstream{Name: c.Name, URL: base, pool: p}
		if u.Name == "" {
			u.Name = base.Host
		}
		if seen[u.Name] {
			return nil, fmt.Errorf("origin: pool %q: two upstreams named %q", name, u.Name)
		}
		seen[u.Name] = true
		u.nameHash = xxhash.Sum64String(u.Name)
		if c.CheckURL != "" {
			cu, err := probe.ParseURL(c.CheckURL)
			if err != nil {
				return nil, fmt.Errorf("origin: pool %q: upstream %q: %w", name, u.Name, err)
			}
			if cu.Path == "" {
				cu.Path = p.hc.CheckPath
			}
			u.checkURL = cu
		}
		p.ups = append(p.ups, u)
	}
	m, err := newPoolMetrics(reg, p)
	if err != nil {
		return nil, fmt.Errorf("origin: pool %q: %w", name, err)
	}
	p.m = m
	if p.prober, err = p.newProber(); err != nil {
		return nil, fmt.Errorf("origin: pool %q: %w", name, err)
	}
	p.closing, p.close = context.WithCancel(context.Background())
	return p, nil
}

// parseBase parses an upstream's base URL: http or https, a host, nothing
// else (a path would be silently dropped, so it is refused).
func parseBase(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("bad URL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("bad URL %q: scheme must be http or https", s)
	case u.Host == "":
		return nil, fmt.Errorf("bad URL %q: no host", s)
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "", u.User != nil:
		return nil, fmt.Errorf("bad URL %q: only scheme://host[:port] is allowed", s)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// Name returns the pool's name.
func (p *Pool) Name() string { return p.name }

// Upstreams returns the pool's upstreams in configured order.
func (p *Pool) Upstreams() []*Upstream { return slices.Clone(p.ups) }

// Status returns the state of every upstream, in order.
func (p *Pool) Status() []UpstreamStatus {
	out := make([]UpstreamStatus, 0, len(p.ups))
	for _, u := range p.ups {
		out = append(out, u.Status())
	}
	return out
}

// Close stops the active checks, waits for Run to return and removes the
// pool from the healthy gauge. The upstreams keep answering Available.
func (p *Pool) Close() error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		p.close()
	}
	p.mu.Unlock()
	p.runs.Wait()
	p.m.health.remove(p)
	if p.owned != nil {
		p.owned.CloseIdleConnections()
	}
	return nil
}

func (u *Upstream) logger() *slog.Logger {
	if u.pool == nil {
		return slog.New(slog.DiscardHandler)
	}
	return u.pool.log
}
