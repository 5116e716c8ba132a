package geodns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/tern-cdn/tern/admin"
	"github.com/tern-cdn/tern/configs"
)

// NodeOptions are the process-wide settings of a dns node.
type NodeOptions struct {
	// Logger is the process logger; the node adds its name.
	Logger *slog.Logger
	// ProcessMetrics adds Go runtime and process collectors to the node's
	// registry. Set it for one node per process.
	ProcessMetrics bool
	// DataDir is where a relative admin.token_file lives.
	DataDir string
}

// Node is a running dns node: the DNS server, the edges' health checks and
// the admin listener.
type Node struct {
	Name   string
	Listen string // DNS, UDP and TCP
	Admin  string

	log     *slog.Logger
	loc     *Locator
	resp    *Responder
	health  *Health
	server  *Server
	admin   *http.Server
	adminLn net.Listener
	ready   atomic.Bool
}

// NewNode builds the dns node ref names from the topology and binds its
// sockets, so that a port in use is reported before anything runs.
func NewNode(t *configs.Topology, ref configs.NodeRef, opts NodeOptions) (*Node, error) {
	if ref.Role != configs.RoleDNS || ref.DNS == nil {
		return nil, fmt.Errorf("node %s is not a dns node", ref.Name)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	log := opts.Logger.With("node", ref.Name, "role", string(ref.Role))
	reg := prometheus.NewRegistry()
	if opts.ProcessMetrics {
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	d := &t.DNS
	n := &Node{Name: ref.Name, log: log}
	fail := func(err error) (*Node, error) {
		n.close()
		return nil, fmt.Errorf("node %s: %w", ref.Name, err)
	}

	var overrides []Override
	for _, nw := range d.Networks {
		loc := Location{Datacenter: nw.Datacenter, Country: nw.Country, Continent: nw.Continent}
		if nw.Lat != nil && nw.Lon != nil {
			loc.Lat, loc.Lon, loc.HasCoords = *nw.Lat, *nw.Lon, true
		}
		overrides = append(overrides, Override{Prefix: nw.Network.Masked(), Location: loc})
	}
	loc, err := OpenLocator(d.GeoIP, overrides)
	if err != nil {
		return fail(err)
	}
	n.loc = loc

	var sites []Datacenter
	var dcs []CheckedDatacenter
	var checked []CheckedEdge
	index := map[string]int{}
	edges := make([][]Edge, len(t.Datacenters))
	for i, dc := range t.Datacenters {
		index[dc.Name] = i
		sites = append(sites, Datacenter{Name: dc.Name, Country: dc.Country, Continent: dc.Continent, Lat: dc.Lat, Lon: dc.Lon})
		dcs = append(dcs, CheckedDatacenter{Name: dc.Name, MinUp: dc.MinEdgesUp})
		for _, e := range dc.Edges {
			edges[i] = append(edges[i], Edge{Name: e.Name, Datacenter: i, Weight: e.Weight, Addrs: e.Public})
			checked = append(checked, CheckedEdge{Name: e.Name, Datacenter: dc.Name, URL: "http://" + e.Admin.String() + "/healthz"})
		}
	}
	var pins []PinRule
	for _, p := range d.Pins {
		pins = append(pins, PinRule{Countries: p.Countries, Continents: p.Continents, Datacenters: p.Datacenters})
	}
	sel := NewSelector(sites, pins, d.DefaultOrder)
	var zones []*Zone
	for i := range d.Zones {
		z, err := CompileZone(&d.Zones[i], index)
		if err != nil {
			return fail(err)
		}
		zones = append(zones, z)
	}
	m := newMetrics(reg, sel.names())
	n.resp, err = NewResponder(ResponderConfig{
		Zones: zones, Locator: loc, Selector: sel, Edges: edges,
		ECSMaxV4: d.ECS.MaxPrefixV4, ECSMaxV6: d.ECS.MaxPrefixV6, UDPSize: d.UDPSize, Logger: log,
		// A first check ends within a timeout; a resolver asking again
		// after max(interval, timeout) finds it in.
		UncheckedTTL: max(d.Health.Interval.D(), d.Health.Timeout.D()),
	})
	if err != nil {
		return fail(err)
	}
	n.health, err = NewHealth(HealthConfig{
		Interval: d.Health.Interval.D(), Timeout: d.Health.Timeout.D(), Rise: d.Health.Rise, Fall: d.Health.Fall,
		FlapWindow: d.Health.FlapWindow.D(), FlapHoldMax: d.Health.FlapHoldMax.D(),
	}, dcs, checked, HealthOptions{Logger: log, Registerer: reg, OnChange: func() { n.resp.Rebuild(n.health.State()) }})
	if err != nil {
		return fail(err)
	}
	n.resp.Rebuild(n.health.State())
	n.server, err = Listen(ServerConfig{
		Addr:            ref.DNS.Listen.String(),
		UDPSockets:      d.UDPSockets,
		TCPMaxConns:     d.TCP.MaxConnections,
		TCPMaxPerClient: d.TCP.MaxPerClient,
		TCPIdle:         d.TCP.IdleTimeout.D(),
		RateLimit:       NewRateLimiter(d.RateLimit.ResponsesPerSecond, d.RateLimit.Slip, d.RateLimit.IPv4Prefix, d.RateLimit.IPv6Prefix),
		Logger:          log,
	}, n.resp, m)
	if err != nil {
		return fail(err)
	}
	n.Listen = n.server.Addr().String()

	token, err := adminToken(t, opts.DataDir)
	if err != nil {
		return fail(err)
	}
	if token == "" {
		log.Warn(admin.NoTokenWarning)
	}
	n.adminLn, err = net.Listen("tcp", ref.DNS.Admin.String())
	if err != nil {
		return fail(fmt.Errorf("admin listen %s: %w", ref.DNS.Admin, err))
	}
	n.Admin = n.adminLn.Addr().String()
	n.admin = &http.Server{
		Handler:           admin.Guard{Token: token, Hosts: t.Admin.Hosts}.Handler(n.adminHandler(reg)),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return n, nil
}

// adminToken is the token of the node's drain API: dns.admin_token_env's,
// else the fleet's (admin.token_env, admin.token_file); "" for none.
func adminToken(t *configs.Topology, dataDir string) (string, error) {
	if env := t.DNS.AdminTokenEnv; env != "" {
		token := os.Getenv(env)
		if token == "" {
			return "", fmt.Errorf("dns.admin_token_env: %s is empty or not set", env)
		}
		return token, nil
	}
	return admin.LoadToken(t.Admin, dataDir)
}

func (n *Node) close() {
	if n.loc != nil {
		n.loc.Close()
	}
	if n.server != nil {
		n.server.closeSockets()
	}
	if n.adminLn != nil {
		n.adminLn.Close()
	}
}

// Run serves until ctx ends, then stops the DNS server (in-flight queries
// finish), the health checks and the admin listener.
func (n *Node) Run(ctx context.Context) error {
	if ctx.Err() != nil {
		n.close()
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return n.health.Run(gctx) })
	g.Go(func() error { return n.server.Serve(gctx) })
	g.Go(func() error {
		err := n.admin.Serve(n.adminLn)
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("node %s admin: %w", n.Name, err)
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return n.admin.Shutdown(sctx)
	})
	n.ready.Store(true)
	n.log.Info("dns node serving", "dns", n.Listen, "admin", n.Admin)
	err := g.Wait()
	n.loc.Close()
	return err
}
