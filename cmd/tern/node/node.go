package node

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/tern-cdn/tern/configs"
)

// ShutdownTimeout is how long a stopping node lets requests in progress
// finish before it closes their connections.
const ShutdownTimeout = 10 * time.Second

// MemoryHeadroom is what a cache process needs beside its memory tiers:
// fills and responses in flight, buffers and the runtime itself.
const MemoryHeadroom = 48 << 20

// MemoryLimit is the soft memory limit (debug.SetMemoryLimit) for a
// process running refs: the memory tiers of its edges and shields, the
// index caches of their disk tiers (cache.disk_index_cache each),
// plus MemoryHeadroom, or 0 when it runs none. Without a limit the garbage
// collector lets the heap grow to twice what is live before it collects
// (GOGC=100), and a full memory tier is live heap: streaming 1 GiB through
// an edge with a 64 MiB tier peaked at about 150 MiB of RSS (bench/slices).
func MemoryLimit(t *configs.Topology, refs []configs.NodeRef) int64 {
	var sum int64
	for _, ref := range refs {
		if ref.Role == configs.RoleEdge || ref.Role == configs.RoleShield {
			sum += t.MemoryFor(ref).Int64()
			if t.DiskFor(ref) > 0 {
				sum += t.Cache.DiskIndexCache.Int64()
			}
		}
	}
	if sum == 0 {
		return 0
	}
	return sum + MemoryHeadroom
}

// Options are the process-level settings of a node.
type Options struct {
	// DataDir holds the node's caches, keys and state, in a folder per
	// node, and a relative admin.token_file.
	DataDir string
	// Logger is the process logger; the node adds its name.
	Logger *slog.Logger
	// ProcessMetrics adds Go runtime and process collectors to the node's
	// registry. Set it for one node per process.
	ProcessMetrics bool
	// FleetSecret is the fleet secret when the topology names none
	// (fleet.secret_file, fleet.secret_env): tern demo gives its nodes a
	// random one. Without any, the node trusts no peer.
	FleetSecret []byte
	// PurgeBusURLs, if set, are the NATS servers the edges and shields
	// consume purges from, in place of the topology's (tests whose purge
	// node's bus listens on a free port).
	PurgeBusURLs []string
}

// part is one role's component of a node.
type part interface {
	// run serves until ctx ends, then stops; ready is set while it serves.
	run(ctx context.Context, ready *atomic.Bool) error
	// release closes what was bound, for a node that will not run.
	release()
}

// Node is one node of the topology (an edge, a shield, a static origin or
// a dns server): its role's part, its metrics registry and its one admin
// server.
type Node struct {
	Name string
	Role configs.Role
	// Listen is the traffic address (for a dns node, DNS over UDP and
	// TCP); Admin the admin server's, "" without one.
	Listen string
	Admin  string
	// TLSListen is the HTTPS (and HTTP/3) address of an edge that has one,
	// and CARoot the root certificate clients must trust for it.
	TLSListen, CARoot string
	// BusURL is the embedded NATS server's client URL of a purge node.
	BusURL string

	log   *slog.Logger
	part  part
	admin *adminServer
	ready atomic.Bool
}

// New builds the node ref names and binds its listeners, so that a port in
// use is reported before anything runs.
func New(t *configs.Topology, ref configs.NodeRef, opts Options) (*Node, error) {
	n, err := build(t, ref, opts)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", ref.Name, err)
	}
	return n, nil
}

func build(t *configs.Topology, ref configs.NodeRef, opts Options) (*Node, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	log := opts.Logger.With("node", ref.Name, "role", string(ref.Role))
	reg := prometheus.NewRegistry()
	if opts.ProcessMetrics {
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	n := &Node{Name: ref.Name, Role: ref.Role, log: log}
	var parts []adminPart
	var adminAddr configs.Addr
	switch ref.Role {
	case configs.RoleDNS:
		if ref.DNS == nil {
			return nil, fmt.Errorf("not a dns node")
		}
		d, err := newDNSNode(t, ref, reg, log)
		if err != nil {
			return nil, err
		}
		n.part, n.Listen, adminAddr = d, d.Listen, ref.DNS.Admin
		parts = append(parts, d.adminPart(ref.Name, &n.ready))
	case configs.RolePurge:
		if ref.Purge == nil {
			return nil, fmt.Errorf("not a purge node")
		}
		p, err := newPurgeNode(t, ref, opts, reg, log)
		if err != nil {
			return nil, err
		}
		n.part, n.Listen, n.BusURL, adminAddr = p, p.Listen, p.BusURL, ref.Purge.Admin
		parts = append(parts, p.adminPart(&n.ready))
	default:
		c, err := newCacheNode(t, ref, opts, reg, log)
		if err != nil {
			return nil, err
		}
		n.part, n.Listen, n.TLSListen, n.CARoot = c, c.Listen, c.TLSListen, c.CARoot
		if ref.Role == configs.RoleOrigin {
			adminAddr = ref.Origin.Admin
		} else {
			adminAddr = ref.Node.Admin
		}
		parts = append(parts, c.adminPart(&n.ready))
	}
	if !adminAddr.IsZero() {
		a, err := listenAdmin(t, ref, adminAddr.String(), opts.DataDir, adminHandler(reg, parts), log)
		if err != nil {
			n.part.release()
			return nil, err
		}
		n.admin, n.Admin = a, a.addr()
	}
	return n, nil
}

// Run serves until ctx ends, then shuts down in order: the role's part
// first (listeners close, requests in progress get ShutdownTimeout), the
// admin server last, so that health checks see the node go unready.
func (n *Node) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	if n.admin != nil {
		g.Go(n.admin.serve)
	}
	g.Go(func() error {
		err := n.part.run(gctx, &n.ready)
		if n.admin != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
			defer cancel()
			n.admin.shutdown(sctx)
		}
		return err
	})
	n.log.Info("node started", "listen", n.Listen, "admin", n.Admin)
	err := g.Wait()
	n.log.Info("node stopped")
	return err
}
