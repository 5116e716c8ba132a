package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tern-cdn/tern/configs"
	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/purge"
	"github.com/tern-cdn/tern/purge/api"
	"github.com/tern-cdn/tern/purge/natsbus"
)

// How long a cache node waits between attempts to reach the purge bus at
// start, doubling from the first to the last.
const (
	purgeRetryFirst = 250 * time.Millisecond
	purgeRetryMax   = 5 * time.Second
	// purgeStartTimeout bounds one attempt.
	purgeStartTimeout = 5 * time.Second
)

// purgeConsumer is an edge's or a shield's purge applier on the bus. Until
// it applied every purge the stream held at start, the node is not ready:
// it serves what it has, possibly stale (its listener is up, a restart must
// not turn a cache into errors), but /readyz fails, so geo-DNS stops
// sending clients to an edge and edges stop filling from a shield.
type purgeConsumer struct {
	log     *slog.Logger
	bus     *natsbus.Bus
	applier *purge.Applier

	// mu serializes the start and the stop of the applier.
	mu      sync.Mutex
	started bool
	stopped bool
}

func newPurgeConsumer(t *configs.Topology, ref configs.NodeRef, opts Options, reg prometheus.Registerer, log *slog.Logger, h *edge.Handler) (*purgeConsumer, error) {
	bus, err := connectCacheBus(t, ref.Name, opts, log)
	if err != nil {
		return nil, fmt.Errorf("purge bus: %w", err)
	}
	a, err := purge.NewApplier(purge.ApplierConfig{
		Node: ref.Name, Bus: bus, Cache: invalidator{h: h}, Logger: log, Registerer: reg,
	})
	if err != nil {
		bus.Close()
		return nil, err
	}
	return &purgeConsumer{log: log, bus: bus, applier: a}, nil
}

// run starts the applier, retrying while the bus is unreachable, until it
// started or ctx ends.
func (c *purgeConsumer) run(ctx context.Context) {
	wait := purgeRetryFirst
	for ctx.Err() == nil {
		err := c.start(ctx)
		if err == nil {
			return
		}
		c.log.Warn("purge bus unreachable; not ready until it applied the purges it missed", "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, purgeRetryMax)
	}
}

func (c *purgeConsumer) start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped || c.started {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, purgeStartTimeout)
	defer cancel()
	if err := c.applier.Start(sctx); err != nil {
		return err
	}
	c.started = true
	return nil
}

// stop stops the applier (a purge being applied finishes) and closes the
// bus connection; it runs before the cache closes.
func (c *purgeConsumer) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	c.stopped = true
	if c.started {
		c.applier.Stop()
	}
	c.bus.Close()
}

// ready reports nil once the node applied every purge it missed.
func (c *purgeConsumer) ready() error {
	if !c.applier.Ready() {
		return errors.New("purges not applied yet")
	}
	return nil
}

// purgeApplied is the cache's edge.Config.PurgeApplied: the node's purge
// consumer's (set once the handler exists, before the node serves); nil
// without a purge bus.
func purgeApplied(t *configs.Topology, n *cacheNode) func() uint64 {
	if !t.HasPurge() {
		return nil
	}
	return func() uint64 {
		if n.purge == nil {
			return 0
		}
		return n.purge.applied()
	}
}

// applied is the last purge sequence this node applied.
func (c *purgeConsumer) applied() uint64 { return c.applier.Applied() }

// invalidator applies purges to an edge or shield's cache.
type invalidator struct{ h *edge.Handler }

func (i invalidator) Invalidate(ctx context.Context, p purge.Purge) error {
	_, err := i.h.Invalidate(ctx, toInvalidation(p))
	return err
}

// InvalidateAll is a hard ban of everything every site stored before.
func (i invalidator) InvalidateAll(ctx context.Context, before time.Time) error {
	_, err := i.h.Invalidate(ctx, edge.Invalidation{All: true, Before: before})
	return err
}

// toInvalidation translates a purge to the cache's terms: files are URLs,
// a "host/path" prefix becomes an absolute one (the cache's bans ignore
// the scheme), and a host becomes the prefix "/" of that host.
func toInvalidation(p purge.Purge) edge.Invalidation {
	inv := edge.Invalidation{
		Site: p.Site, URLs: p.Files, Tags: p.Tags, All: p.Everything, Soft: p.Soft,
	}
	for _, pre := range p.Prefixes {
		if !strings.HasPrefix(pre, "/") && !strings.Contains(pre, "://") {
			pre = "http://" + pre
		}
		inv.Prefixes = append(inv.Prefixes, pre)
	}
	for _, host := range p.Hosts {
		inv.Prefixes = append(inv.Prefixes, "http://"+host+"/")
	}
	return inv
}

// purgeMethod answers the PURGE method on a client-facing edge: a purge of
// the request's URL, published on the bus as the API does, with its
// tokens; every other request goes to the cache.
type purgeMethod struct {
	next  http.Handler
	api   *api.Handler
	sites map[string]string // normalized host → site name
}

func newPurgeMethod(t *configs.Topology, next http.Handler, h *api.Handler) *purgeMethod {
	m := &purgeMethod{next: next, api: h, sites: map[string]string{}}
	for _, s := range t.Sites {
		for _, host := range s.Hosts {
			m.sites[edge.NormalizeHost(host)] = s.Name
		}
	}
	return m
}

func (m *purgeMethod) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != "PURGE" {
		m.next.ServeHTTP(w, r)
		return
	}
	host := edge.NormalizeHost(r.Host)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	// An unknown host has site "": the API answers 400 unknown site
	// (after the token check).
	m.api.PurgeURL(w, r, m.sites[host], scheme+"://"+host+r.URL.RequestURI())
}

// addPurge gives an edge or a shield its purge consumer when the topology
// has a purge bus, and an edge the PURGE method; it returns the handler
// to serve.
func (n *cacheNode) addPurge(t *configs.Topology, ref configs.NodeRef, opts Options, reg prometheus.Registerer, log *slog.Logger, h *edge.Handler) (http.Handler, error) {
	if !t.HasPurge() {
		return h, nil
	}
	c, err := newPurgeConsumer(t, ref, opts, reg, log, h)
	if err != nil {
		return nil, err
	}
	n.purge = c
	n.runners = append(n.runners, c.run)
	// The applier stops before the cache it writes to closes.
	n.closers = append([]func(){c.stop}, n.closers...)
	if ref.Role != configs.RoleEdge {
		return h, nil
	}
	a, err := newPurgeAPI(t, c.bus, opts.DataDir, reg, log)
	if err != nil {
		return nil, err
	}
	return newPurgeMethod(t, h, a), nil
}
