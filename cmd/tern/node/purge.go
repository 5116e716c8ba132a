package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tern-cdn/tern/configs"
	"github.com/tern-cdn/tern/purge"
	"github.com/tern-cdn/tern/purge/api"
	"github.com/tern-cdn/tern/purge/natsbus"
)

// purgeNode is the purge node's part: the embedded NATS server (unless the
// bus is external) and the purge API.
type purgeNode struct {
	log    *slog.Logger
	server *natsbus.Server // nil with an external bus
	bus    *natsbus.Bus
	ln     net.Listener
	srv    *http.Server
	// Listen is the API's bound address; BusURL the embedded NATS server's
	// client URL ("" without a listener or with an external bus).
	Listen, BusURL string
}

// newPurgeNode starts the embedded NATS server, connects to the bus and
// binds the API's listener.
func newPurgeNode(t *configs.Topology, ref configs.NodeRef, opts Options, reg prometheus.Registerer, log *slog.Logger) (*purgeNode, error) {
	p := ref.Purge
	n := &purgeNode{log: log}
	cfg := busConfig(t, ref.Name, log)
	if p.Bus.Mode == "embedded" {
		if opts.DataDir == "" {
			return nil, errors.New("an embedded purge bus needs a data directory")
		}
		sc := natsbus.ServerConfig{Name: ref.Name, Dir: filepath.Join(opts.DataDir, ref.Name, p.Bus.Dir), Logger: log}
		if p.Bus.Listen.IsZero() {
			sc.NoListen = true
		} else {
			sc.Host, sc.Port = p.Bus.Listen.Host(), int(p.Bus.Listen.Port())
			if sc.Port == 0 {
				sc.Port = -1 // a free port, not NATS's default 4222
			}
		}
		srv, err := natsbus.StartServer(sc)
		if err != nil {
			return nil, err
		}
		n.server, n.BusURL = srv, srv.ClientURL()
		cfg.InProcess = srv
	} else if err := externalBus(&cfg, t.Purge.Bus); err != nil {
		return nil, err
	}
	bus, err := natsbus.Connect(cfg)
	if err != nil {
		n.release()
		return nil, err
	}
	n.bus = bus
	h, err := newPurgeAPI(t, bus, opts.DataDir, reg, log)
	if err != nil {
		n.release()
		return nil, err
	}
	if n.ln, err = net.Listen("tcp", p.Listen.String()); err != nil {
		n.release()
		return nil, fmt.Errorf("purge api: listen %s: %w", p.Listen, err)
	}
	n.Listen = n.ln.Addr().String()
	n.srv = controlServer(h, log)
	return n, nil
}

// newPurgeAPI is the purge API handler of the topology, on bus.
func newPurgeAPI(t *configs.Topology, bus purge.Bus, dataDir string, reg prometheus.Registerer, log *slog.Logger) (*api.Handler, error) {
	tokens, err := purgeTokens(t.Purge, dataDir)
	if err != nil {
		return nil, err
	}
	if tokens.Len() == 0 {
		log.Warn("purge: no tokens (purge.tokens_file or purge.token_env): every purge call is refused with 401")
	}
	cfg := api.Config{
		Bus: bus, Tokens: tokens, Limits: purge.Limits{MaxEntries: t.Purge.MaxEntries},
		MaxBody: t.Purge.MaxBody.Int64(), Rate: float64(t.Purge.Rate), Burst: t.Purge.Burst,
		Logger: log, Registerer: reg,
	}
	for _, s := range t.Sites {
		cfg.Sites = append(cfg.Sites, api.Site{Name: s.Name, Hosts: s.Hosts})
	}
	for _, ref := range t.Nodes() {
		if ref.Role == configs.RoleEdge || ref.Role == configs.RoleShield {
			cfg.Nodes = append(cfg.Nodes, ref.Name)
		}
	}
	return api.New(cfg)
}

// purgeTokens loads the API's tokens from purge.tokens_file or
// purge.token_env; none without either.
func purgeTokens(p configs.Purge, dataDir string) (api.Tokens, error) {
	switch {
	case p.TokensFile != "":
		path := p.TokensFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(dataDir, path)
			// A data directory no tokens were written to yet (a node
			// of the demo topology run on its own with tern run) has
			// none: every call is refused, and the node still runs.
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				return api.Tokens{}, nil
			}
		}
		return api.LoadTokens(path)
	case p.TokenEnv != "":
		return api.TokensFromEnv(p.TokenEnv)
	}
	return api.Tokens{}, nil
}

// busConfig is the bus connection of a node, without its servers.
func busConfig(t *configs.Topology, node string, log *slog.Logger) natsbus.Config {
	p := t.Purge
	return natsbus.Config{
		Name: node, MaxAge: p.MaxAge.D(), Duplicates: p.Duplicates.D(), Replicas: p.Bus.Replicas,
		Logger: log,
	}
}

// externalBus adds an external cluster's URLs, TLS and credentials.
func externalBus(cfg *natsbus.Config, b configs.PurgeBus) error {
	cfg.URLs = b.URLs
	cfg.CredsFile = b.CredsFile
	if b.CAFile != "" || b.CertFile != "" {
		conf, err := natsbus.TLSFromFiles(b.CAFile, b.CertFile, b.KeyFile)
		if err != nil {
			return fmt.Errorf("purge.bus: %w", err)
		}
		cfg.TLS = conf
	}
	return nil
}

// connectCacheBus connects an edge or a shield to the topology's bus: the
// external cluster, or the purge node's embedded server at
// purge.bus.listen (opts.PurgeBusURLs overrides both).
func connectCacheBus(t *configs.Topology, node string, opts Options, log *slog.Logger) (*natsbus.Bus, error) {
	cfg := busConfig(t, node, log)
	switch {
	case len(opts.PurgeBusURLs) > 0:
		cfg.URLs = opts.PurgeBusURLs
	case t.Purge.Bus.Mode == "external":
		if err := externalBus(&cfg, t.Purge.Bus); err != nil {
			return nil, err
		}
	case t.Purge.Bus.Listen.IsZero() || t.Purge.Bus.Listen.Port() == 0:
		return nil, errors.New("purge.bus.listen (with a port) is needed for the caches to reach the embedded bus")
	default:
		cfg.URLs = []string{"nats://" + t.Purge.Bus.Listen.String()}
	}
	return natsbus.Connect(cfg)
}

func (n *purgeNode) adminPart(ready *atomic.Bool) adminPart {
	return adminPart{
		ready: whileRunning(ready),
		status: func() map[string]any {
			return map[string]any{"purge_api": n.Listen, "purge_bus": n.BusURL}
		},
	}
}

// run serves the API until ctx ends, then stops it, the bus connection
// and the embedded server, in that order.
func (n *purgeNode) run(ctx context.Context, ready *atomic.Bool) error {
	errc := make(chan error, 1)
	go func() {
		if err := n.srv.Serve(n.ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("purge api: %w", err)
			return
		}
		errc <- nil
	}()
	ready.Store(true)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	ready.Store(false)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	if e := n.srv.Shutdown(sctx); e != nil {
		n.srv.Close()
	}
	if err == nil {
		err = <-errc
	}
	n.closeBus()
	return err
}

func (n *purgeNode) release() {
	if n.ln != nil {
		n.ln.Close()
	}
	n.closeBus()
}

func (n *purgeNode) closeBus() {
	if n.bus != nil {
		n.bus.Close()
		n.bus = nil
	}
	if n.server != nil {
		n.server.Shutdown()
		n.server = nil
	}
}
