package node

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/tern-cdn/tern/cmd/tern/internal/admin"
	"github.com/tern-cdn/tern/configs"
	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/edge/httpcache"
	"github.com/tern-cdn/tern/edge/store"
	"github.com/tern-cdn/tern/edge/tlscert"
	"github.com/tern-cdn/tern/origin"
	"github.com/tern-cdn/tern/origin/static"
)

// cacheNode is a node's cache part (an edge, a shield or a static
// origin) with its traffic listeners.
type cacheNode struct {
	log     *slog.Logger
	traffic *edge.Server
	secure  *edge.SecureServer
	// Listen, TLSListen and CARoot are the bound addresses and the local
	// CA's root (see Node).
	Listen, TLSListen, CARoot string
	// plain is the plain listener's handler; challenges, once set, wraps
	// it to answer ACME HTTP-01 challenges first.
	plain      http.Handler
	challenges atomic.Pointer[http.Handler]
	acme       *tlscert.ACME
	closers    []func()
	// runners run beside the listeners until the node stops (health checks).
	runners []func(context.Context)
	// status reports the upstreams' health for the admin /status page.
	status func() []origin.UpstreamStatus
	// purge is an edge's or a shield's purge consumer; nil without a
	// purge bus in the topology.
	purge *purgeConsumer
}

// newCacheNode builds the cache part of ref (an edge, a shield or a
// static origin) and binds its traffic listeners.
func newCacheNode(t *configs.Topology, ref configs.NodeRef, opts Options, reg *prometheus.Registry, log *slog.Logger) (*cacheNode, error) {
	n := &cacheNode{log: log}
	var handler http.Handler
	var listen configs.Addr
	switch ref.Role {
	case configs.RoleOrigin:
		o := ref.Origin
		listen = o.Listen
		srv, err := static.New(staticConfig(o), reg, log)
		if err != nil {
			return nil, err
		}
		handler = srv
	case configs.RoleEdge, configs.RoleShield:
		listen = ref.Node.Listen
		if opts.DataDir != "" {
			dir := filepath.Join(opts.DataDir, ref.Name)
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("data dir: %w", err)
			}
		}
		secret, err := fleetSecret(t, opts)
		if err != nil {
			return nil, err
		}
		if len(secret) == 0 {
			log.Error("no fleet secret (fleet.secret_file or fleet.secret_env): this node trusts no other node; " +
				"shields drop the client address and scheme edges forward, and edges cannot tell a shield's errors from the origin's")
		}
		h, err := newCacheHandler(t, ref, reg, log, n, opts.DataDir, origin.NewFleet(secret))
		if err != nil {
			return nil, err
		}
		if handler, err = n.addPurge(t, ref, opts, reg, log, h); err != nil {
			n.close()
			return nil, err
		}
	default:
		return nil, fmt.Errorf("role %q cannot run yet", ref.Role)
	}

	var err error
	listenFn := func(addr string, h http.Handler, log *slog.Logger) (*edge.Server, error) {
		return edge.ListenWith(addr, h, log, edge.ServerOptions{HTTP1: t.Server.HTTP1})
	}
	if ref.Role == configs.RoleShield {
		listenFn = edge.ListenH2C
	}
	n.plain = handler
	if n.traffic, err = listenFn(listen.String(), http.HandlerFunc(n.servePlain), log); err != nil {
		n.close()
		return nil, err
	}
	n.Listen = n.traffic.Addr().String()
	if ref.Role == configs.RoleEdge && !ref.Node.TLSListen.IsZero() {
		if err := n.listenSecure(t, ref, handler, opts.DataDir, reg, log); err != nil {
			n.traffic.Close()
			n.close()
			return nil, err
		}
	}
	return n, nil
}

// release closes what newCacheNode bound, for a node that will not run.
func (n *cacheNode) release() {
	n.traffic.Close()
	if n.secure != nil {
		n.secure.Shutdown(context.Background())
	}
	n.close()
}

// adminPart is the cache's contribution to the admin server: ready while
// it serves, and the upstreams' health in /status.
func (n *cacheNode) adminPart(ready *atomic.Bool) adminPart {
	running := whileRunning(ready)
	return adminPart{
		ready: func() error {
			if err := running(); err != nil || n.purge == nil {
				return err
			}
			return n.purge.ready()
		},
		status: func() map[string]any {
			doc := map[string]any{"upstreams": []origin.UpstreamStatus{}}
			if n.status != nil {
				doc["upstreams"] = n.status()
			}
			if n.purge != nil {
				doc["purge_applied"] = n.purge.applied()
			}
			return doc
		},
	}
}

// servePlain serves the plain listener, ACME HTTP-01 challenges first
// when the node gets certificates from ACME.
func (n *cacheNode) servePlain(w http.ResponseWriter, r *http.Request) {
	if h := n.challenges.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	n.plain.ServeHTTP(w, r)
}

// acmeTLSALPN is the ALPN protocol of TLS-ALPN-01 challenges (RFC 8737).
const acmeTLSALPN = "acme-tls/1"

// listenSecure binds an edge's HTTPS address (TLS on TCP and HTTP/3 on
// UDP) with certificates from the local CA in the data directory, which
// every node using that directory shares.
func (n *cacheNode) listenSecure(t *configs.Topology, ref configs.NodeRef, h http.Handler, dataDir string, reg prometheus.Registerer, log *slog.Logger) error {
	_, plainPort, _ := net.SplitHostPort(n.Listen)
	httpPort, _ := strconv.Atoi(plainPort)
	certs, err := tlscert.New(certConfig(t, dataDir, httpPort, int(ref.Node.TLSListen.Port()), reg, log))
	if err != nil {
		return err
	}
	conf := &tls.Config{GetCertificate: certs.GetCertificate, MinVersion: tls.VersionTLS12}
	if a := certs.ACME(); a != nil {
		// TLS-ALPN-01 challenges come on the TLS listener; HTTP-01 ones on
		// the plain one.
		conf.NextProtos = []string{acmeTLSALPN}
		n.acme = a
		ch := a.HTTPHandler(n.plain)
		n.challenges.Store(&ch)
	}
	// Sites that ask for TLS 1.3 only get a config of their own, by SNI.
	strict := conf.Clone()
	strict.MinVersion = tls.VersionTLS13
	// Over TCP the returned config is used as it is; QUIC sets h3 itself.
	strict.NextProtos = append([]string{"h2", "http/1.1"}, conf.NextProtos...)
	tls13 := map[string]bool{}
	for _, s := range t.Sites {
		if s.HTTPS.MinVersion == "1.3" {
			for _, h := range s.Hosts {
				tls13[h] = true
			}
		}
	}
	if len(tls13) > 0 {
		conf.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			if tls13[edge.NormalizeHost(hello.ServerName)] {
				return strict, nil
			}
			return nil, nil
		}
	}
	listen := edge.ListenSecure
	if t.TLS.Allow0RTT {
		listen = edge.ListenSecure0RTT
	}
	if n.secure, err = listen(ref.Node.TLSListen.String(), h, conf, log); err != nil {
		return err
	}
	n.TLSListen = n.secure.Addr().String()
	n.CARoot = certs.CARoot()
	return nil
}

// certConfig is the certificates' part of the topology for an edge.
func certConfig(t *configs.Topology, dataDir string, httpPort, tlsPort int, reg prometheus.Registerer, log *slog.Logger) tlscert.Config {
	a := t.TLS.ACME
	cfg := tlscert.Config{
		Mode: t.TLS.Mode,
		ACME: tlscert.ACMEConfig{
			Directory: a.Directory, Email: a.Email, TrustedRoots: a.TrustedRoots, Challenges: a.Challenges,
			EABKeyID: a.EABKeyID, EABMACKeyEnv: a.EABMACKeyEnv, OnDemand: a.OnDemand,
			RenewWindow: a.RenewWindow, RenewCheck: a.RenewCheck.D(),
		},
		DataDir: dataDir, HTTPPort: httpPort, TLSPort: tlsPort, Registerer: reg, Logger: log,
	}
	for _, s := range t.Sites {
		cfg.Sites = append(cfg.Sites, tlscert.Site{Name: s.Name, Hosts: s.Hosts, CertFile: s.TLSCert, KeyFile: s.TLSKey})
	}
	return cfg
}

// newCacheHandler builds the cache of an edge or a shield.
func newCacheHandler(t *configs.Topology, ref configs.NodeRef, reg *prometheus.Registry, log *slog.Logger, n *cacheNode, dataDir string, fleet *origin.Fleet) (*edge.Handler, error) {
	mem, err := store.NewMemory(t.MemoryFor(ref).Int64())
	if err != nil {
		return nil, err
	}
	edge.RegisterStoreMetrics(reg, mem)
	var disk *store.Disk
	if size := t.DiskFor(ref).Int64(); size > 0 {
		if dataDir == "" {
			mem.Close()
			return nil, fmt.Errorf("a disk tier needs a data directory")
		}
		disk, err = store.OpenDisk(store.DiskConfig{
			Dir:             filepath.Join(dataDir, ref.Name, "cache"),
			MaxBytes:        size,
			OpenFiles:       t.Cache.DiskOpenFiles,
			IndexCacheBytes: t.Cache.DiskIndexCache.Int64(),
			Logger:          log,
			Registerer:      reg,
		})
		if err != nil {
			mem.Close()
			return nil, err
		}
	}
	tiers := store.NewTiered(mem, disk, log)
	n.closers = append(n.closers, func() {
		if err := tiers.Close(); err != nil {
			log.Error("closing the cache failed", "err", err)
		}
	})

	upstream, shielded, err := newUpstream(t, ref, reg, log, n, fleet)
	if err != nil {
		return nil, err
	}
	var sites []edge.Site
	for _, s := range t.Sites {
		sites = append(sites, edge.Site{
			Name:       s.Name,
			Hosts:      s.Hosts,
			Origin:     s.Origin.URL(),
			OriginHost: s.HostHeader,
			Policy: httpcache.Policy{
				DefaultTTL:              s.Cache.DefaultTTL.D(),
				HeuristicFraction:       s.Cache.HeuristicFraction,
				HeuristicMax:            s.Cache.HeuristicMax.D(),
				StaleWhileRevalidate:    s.Cache.StaleWhileRevalidate.D(),
				StaleIfError:            s.Cache.StaleIfError.D(),
				StoreSetCookie:          s.Cache.SetCookie == "strip",
				IgnoreRequestDirectives: s.Cache.IgnoreRequestDirectives,
			},
			KeyHeaders:        s.KeyHeaders,
			SendSurrogateKeys: s.Cache.SendSurrogateKeys,
			MinTLSVersion:     minTLSVersion(s.HTTPS.MinVersion),
			RedirectHTTPS:     s.HTTPS.Redirect,
			HSTS:              s.HTTPS.HSTS.D(),
			Tier:              tierOf(s.Cache.Tier),
			Tiers:             tierRules(s.Cache.Tiers),
			Compression: edge.Compression{
				Codings: s.Compression.Codings,
				Types:   s.Compression.Types,
				MinSize: int64(s.Compression.MinSize),
				MaxSize: int64(s.Compression.MaxSize),
			},
		})
	}
	h, err := edge.NewHandler(edge.Config{
		Node:                 ref.Name,
		Sites:                sites,
		Upstream:             upstream,
		Shielded:             shielded,
		ClientFacing:         ref.Role == configs.RoleEdge,
		Store:                tiers,
		MaxObjectSize:        t.Cache.MaxObjectSize.Int64(),
		SliceSize:            t.Cache.SliceSize.Int64(),
		UpstreamTimeout:      upstreamTimeout(t, ref),
		UpstreamTotalTimeout: t.Upstream.TotalTimeout.D(),
		Fleet:                fleet,
		HTTPSPort:            httpsPort(ref),
		PurgeApplied:         purgeApplied(t, n),
		Logger:               log,
		Registerer:           reg,
	})
	if err != nil {
		return nil, err
	}
	// The handler stops before the store it writes to.
	n.closers = append([]func(){h.Close}, n.closers...)
	return h, nil
}

// fleetSecret reads the fleet secret the topology names, else takes the
// process's (opts.FleetSecret); nil when there is none.
func fleetSecret(t *configs.Topology, opts Options) ([]byte, error) {
	switch f := t.Fleet; {
	case f.SecretFile != "":
		// Relative: in the data directory, made there once, so the nodes
		// of one data directory (tern run of each demo node) share it.
		s, err := admin.SecretFile("fleet.secret_file", f.SecretFile, opts.DataDir)
		return []byte(s), err
	case f.SecretEnv != "":
		v := strings.TrimSpace(os.Getenv(f.SecretEnv))
		if v == "" {
			return nil, fmt.Errorf("fleet.secret_env: %s is empty or not set", f.SecretEnv)
		}
		return []byte(v), nil
	}
	return opts.FleetSecret, nil
}

// httpsPort is the port an edge's HTTPS redirects point to.
func httpsPort(ref configs.NodeRef) int {
	if ref.Node == nil || ref.Node.TLSListen.IsZero() {
		return 443
	}
	return int(ref.Node.TLSListen.Port())
}

// minTLSVersion maps a site's https.min_version to crypto/tls.
func minTLSVersion(v string) uint16 {
	if v == "1.3" {
		return tls.VersionTLS13
	}
	return tls.VersionTLS12
}

func tierOf(name string) httpcache.Tier {
	switch name {
	case "memory":
		return httpcache.TierMemory
	case "disk":
		return httpcache.TierDisk
	}
	return 0 // both
}

func tierRules(rules []configs.TierRule) []edge.TierRule {
	var out []edge.TierRule
	for _, r := range rules {
		out = append(out, edge.TierRule{Match: r.Match, Tier: tierOf(r.Tier)})
	}
	return out
}

// newUpstream builds a cache node's upstream: for an edge, its shields
// ranked per object by rendezvous hashing, then the site's origins; for a
// shield, the site's origins. Shields are checked on their admin /healthz,
// origins on the site's health_path; every upstream is also checked
// passively by its requests' failures.
func newUpstream(t *configs.Topology, ref configs.NodeRef, reg *prometheus.Registry, log *slog.Logger, n *cacheNode, fleet *origin.Fleet) (http.RoundTripper, bool, error) {
	up := t.Upstream
	hc := origin.HealthConfig{
		MaxFails: up.Health.MaxFails, FailBackoff: up.Health.FailBackoff.D(),
		Interval: up.Health.Interval.D(), Timeout: up.Health.Timeout.D(),
		Rise: up.Health.Rise, Fall: up.Health.Fall,
	}
	toOrigins := origin.NewTransport(origin.TransportConfig{
		IdleTimeout: up.IdleTimeout.D(), DialTimeout: up.ConnectTimeout.D(),
	})
	n.closers = append(n.closers, toOrigins.CloseIdleConnections)

	pools := map[string]*origin.Pool{}
	for _, s := range t.Sites {
		ups := []origin.UpstreamConfig{{Name: s.Name + "-origin", URL: s.Origin.String()}}
		for i, b := range s.Backups {
			ups = append(ups, origin.UpstreamConfig{Name: fmt.Sprintf("%s-backup-%d", s.Name, i+1), URL: b.String()})
		}
		shc := hc
		if s.HealthPath == "" {
			shc.Interval = -1 // passive checks only
		} else {
			for i := range ups {
				ups[i].CheckURL = strings.TrimSuffix(ups[i].URL, "/") + s.HealthPath
			}
		}
		pool, err := origin.NewPool("site-"+s.Name, ups, shc, toOrigins, reg, log)
		if err != nil {
			return nil, false, err
		}
		n.runners = append(n.runners, pool.Run)
		for _, h := range s.Hosts {
			pools[h] = pool
		}
	}
	originsFor := func(r *http.Request) *origin.Pool { return pools[edge.NormalizeHost(r.Host)] }

	var shields *origin.Pool
	transport := http.RoundTripper(toOrigins)
	if ref.Role == configs.RoleEdge {
		var ups []origin.UpstreamConfig
		var hosts []string
		for _, s := range t.Shields() {
			if len(ref.Node.Shields) > 0 && !slices.Contains(ref.Node.Shields, s.Name) {
				continue
			}
			ups = append(ups, origin.UpstreamConfig{Name: s.Name, URL: "http://" + s.Node.Listen.String(),
				CheckURL: "http://" + s.Node.Admin.String() + "/readyz"})
			hosts = append(hosts, s.Node.Listen.String())
		}
		if len(ups) > 0 {
			toShields := origin.NewTransport(origin.TransportConfig{
				IdleTimeout: up.IdleTimeout.D(), DialTimeout: up.ConnectTimeout.D(),
				// No per-request header timeout: a shield waiting on a slow
				// origin is not a failed shield (it answers 504 itself before
				// this edge's timeout, see upstreamTimeout). A dead or hung
				// connection is found by pings in a third of the timeout.
				PingTimeout: up.Timeout.D() / 6,
				H2C:         up.ShieldProtocol == "h2c",
			})
			n.closers = append(n.closers, toShields.CloseIdleConnections)
			var err error
			// Checks go to the shields' admin listeners, which speak HTTP/1.1.
			if shields, err = origin.NewPool("shields", ups, hc, toOrigins, reg, log); err != nil {
				return nil, false, err
			}
			n.runners = append(n.runners, shields.Run)
			// Only the requests to shields carry the fleet's token.
			transport = origin.NewSplit(hosts, fleet.Sign(toShields), toOrigins)
		}
	}
	self := ""
	if ref.Node != nil {
		self = ref.Node.Listen.String()
	}
	router := origin.NewRouter(shields, originsFor, transport, self, reg, log)
	n.status = router.Status
	return router, shields != nil, nil
}

// upstreamTimeout is how long a cache node waits for upstream response
// headers: upstream.timeout at an edge; a little less at a shield, so that
// a shield waiting on a slow origin answers its edges 504 (Tern-Error:
// upstream-error, which does not count against the shield) before they
// give up on it.
func upstreamTimeout(t *configs.Topology, ref configs.NodeRef) time.Duration {
	d := t.Upstream.Timeout.D()
	if ref.Role == configs.RoleShield {
		d -= min(d/10, time.Second)
	}
	return d
}

func staticConfig(o *configs.StaticOrigin) static.Config {
	cfg := static.Config{Root: o.Root}
	for _, r := range o.Rules {
		cfg.Rules = append(cfg.Rules, static.Rule{
			Match:         r.Match,
			CacheControl:  r.CacheControl,
			SurrogateKeys: r.SurrogateKeys,
			ETag:          r.ETag == nil || *r.ETag,
			LastModified:  r.LastModified == nil || *r.LastModified,
			Headers:       r.Headers,
		})
	}
	return cfg
}

// run serves until ctx ends, then shuts down gracefully: listeners close,
// requests in progress get ShutdownTimeout to finish. ready is set while
// the listeners serve.
func (n *cacheNode) run(ctx context.Context, ready *atomic.Bool) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(n.traffic.Serve)
	if n.secure != nil {
		g.Go(n.secure.Serve)
	}
	for _, run := range n.runners {
		g.Go(func() error { run(gctx); return nil })
	}
	if n.acme != nil {
		if err := n.acme.Manage(gctx); err != nil {
			n.log.Error("ACME certificates cannot be managed", "err", err)
		}
		defer n.acme.Stop()
	}
	ready.Store(true)
	g.Go(func() error {
		<-gctx.Done()
		ready.Store(false)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
		defer cancel()
		err := n.traffic.Shutdown(sctx)
		if n.secure != nil {
			if e := n.secure.Shutdown(sctx); err == nil {
				err = e
			}
		}
		n.close()
		return err
	})
	return g.Wait()
}

func (n *cacheNode) close() {
	for _, c := range n.closers {
		c()
	}
	n.closers = nil
}
