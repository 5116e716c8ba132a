package node

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/tern-cdn/tern/configs"
	"github.com/tern-cdn/tern/geodns"
)

// dnsNode is a node's dns part: the DNS server and the edges' health
// checks.
type dnsNode struct {
	// Listen is the DNS address, UDP and TCP.
	Listen string

	log    *slog.Logger
	loc    *geodns.Locator
	resp   *geodns.Responder
	health *geodns.Health
	server *geodns.Server
}

// newDNSNode builds the dns part of ref from the topology and binds its
// sockets, so that a port in use is reported before anything runs.
func newDNSNode(t *configs.Topology, ref configs.NodeRef, reg *prometheus.Registry, log *slog.Logger) (*dnsNode, error) {
	d := &t.DNS
	n := &dnsNode{log: log}
	fail := func(err error) (*dnsNode, error) {
		n.close()
		return nil, err
	}

	var overrides []geodns.Override
	for _, nw := range d.Networks {
		loc := geodns.Location{Datacenter: nw.Datacenter, Country: nw.Country, Continent: nw.Continent}
		if nw.Lat != nil && nw.Lon != nil {
			loc.Lat, loc.Lon, loc.HasCoords = *nw.Lat, *nw.Lon, true
		}
		overrides = append(overrides, geodns.Override{Prefix: nw.Network.Masked(), Location: loc})
	}
	loc, err := geodns.OpenLocator(d.GeoIP, overrides)
	if err != nil {
		return fail(err)
	}
	n.loc = loc

	var sites []geodns.Datacenter
	var dcs []geodns.CheckedDatacenter
	var checked []geodns.CheckedEdge
	index := map[string]int{}
	edges := make([][]geodns.Edge, len(t.Datacenters))
	for i, dc := range t.Datacenters {
		index[dc.Name] = i
		sites = append(sites, geodns.Datacenter{Name: dc.Name, Country: dc.Country, Continent: dc.Continent, Lat: dc.Lat, Lon: dc.Lon})
		dcs = append(dcs, geodns.CheckedDatacenter{Name: dc.Name, MinUp: dc.MinEdgesUp})
		for _, e := range dc.Edges {
			edges[i] = append(edges[i], geodns.Edge{Name: e.Name, Datacenter: i, Weight: e.Weight, Addrs: e.Public})
			checked = append(checked, geodns.CheckedEdge{Name: e.Name, Datacenter: dc.Name, URL: "http://" + e.Admin.String() + "/healthz"})
		}
	}
	var pins []geodns.PinRule
	for _, p := range d.Pins {
		pins = append(pins, geodns.PinRule{Countries: p.Countries, Continents: p.Continents, Datacenters: p.Datacenters})
	}
	sel := geodns.NewSelector(sites, pins, d.DefaultOrder)
	var zones []*geodns.Zone
	for i := range d.Zones {
		z, err := geodns.CompileZone(&d.Zones[i], index)
		if err != nil {
			return fail(err)
		}
		zones = append(zones, z)
	}
	n.resp, err = geodns.NewResponder(geodns.ResponderConfig{
		Zones: zones, Locator: loc, Selector: sel, Edges: edges,
		ECSMaxV4: d.ECS.MaxPrefixV4, ECSMaxV6: d.ECS.MaxPrefixV6, UDPSize: d.UDPSize, Logger: log,
		// A first check ends within a timeout; a resolver asking again
		// after max(interval, timeout) finds it in.
		UncheckedTTL: max(d.Health.Interval.D(), d.Health.Timeout.D()),
	})
	if err != nil {
		return fail(err)
	}
	n.health, err = geodns.NewHealth(geodns.HealthConfig{
		Interval: d.Health.Interval.D(), Timeout: d.Health.Timeout.D(), Rise: d.Health.Rise, Fall: d.Health.Fall,
		FlapWindow: d.Health.FlapWindow.D(), FlapHoldMax: d.Health.FlapHoldMax.D(),
	}, dcs, checked, geodns.HealthOptions{Logger: log, Registerer: reg, OnChange: func() { n.resp.Rebuild(n.health.State()) }})
	if err != nil {
		return fail(err)
	}
	n.resp.Rebuild(n.health.State())
	n.server, err = geodns.ListenWithMetrics(geodns.ServerConfig{
		Addr:            ref.DNS.Listen.String(),
		UDPSockets:      d.UDPSockets,
		TCPMaxConns:     d.TCP.MaxConnections,
		TCPMaxPerClient: d.TCP.MaxPerClient,
		TCPIdle:         d.TCP.IdleTimeout.D(),
		RateLimit:       geodns.NewRateLimiter(d.RateLimit.ResponsesPerSecond, d.RateLimit.Slip, d.RateLimit.IPv4Prefix, d.RateLimit.IPv6Prefix),
		Logger:          log,
	}, n.resp, sel, reg)
	if err != nil {
		return fail(err)
	}
	n.Listen = n.server.Addr().String()

	return n, nil
}

func (n *dnsNode) close() {
	if n.loc != nil {
		n.loc.Close()
	}
	if n.server != nil {
		n.server.Close()
	}
}

// release closes what newDNSNode bound, for a node that will not run.
func (n *dnsNode) release() { n.close() }

// run serves until ctx ends, then stops the DNS server (in-flight
// queries finish) and the health checks. ready is set while it serves.
func (n *dnsNode) run(ctx context.Context, ready *atomic.Bool) error {
	if ctx.Err() != nil {
		n.close()
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return n.health.Run(gctx) })
	g.Go(func() error { return n.server.Serve(gctx) })
	ready.Store(true)
	err := g.Wait()
	ready.Store(false)
	n.loc.Close()
	return err
}

// adminPart is the dns part's contribution to the admin server: ready
// while it serves, its health in /status, and the drain API.
func (n *dnsNode) adminPart(name string, ready *atomic.Bool) adminPart {
	return adminPart{
		ready: whileRunning(ready),
		status: func() map[string]any {
			return map[string]any{"node": name, "dns": n.Listen, "fail_open": n.resp.FailOpen(), "health": n.health.Status()}
		},
		routes: n.drainRoutes,
	}
}
