package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tern-cdn/tern/cmd/tern/internal/admin"
	"github.com/tern-cdn/tern/configs"
)

// controlServer is an HTTP server for a node's control traffic (its admin
// endpoints, the purge API): small requests and answers, from clients
// (Prometheus, health checks, an operator's curl, a site owner's script)
// that have no reason to be slow.
func controlServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// adminPart is what one part of a node (its cache, its dns server; later
// purge) contributes to the node's one admin server, in the manner of
// Caddy's admin routes and CoreDNS's ready plugin.
type adminPart struct {
	// ready reports nil once the part can serve; /readyz answers 200
	// only when every part is ready.
	ready func() error
	// status returns the part's fields of the /status object.
	status func() map[string]any
	// routes, if set, adds the part's own routes. Mutating ones (any
	// method but GET, HEAD and OPTIONS) pass the admin token check.
	routes func(*http.ServeMux)
}

// whileRunning is the readiness of a part that sets ready while it serves.
func whileRunning(ready *atomic.Bool) func() error {
	return func() error {
		if !ready.Load() {
			return errors.New("starting")
		}
		return nil
	}
}

// adminHandler serves a node's /metrics, /healthz (the process is alive),
// /readyz (every part is ready), /status (one JSON object holding every
// part's fields) and the parts' own routes. The admin guard goes in front.
func adminHandler(reg *prometheus.Registry, parts []adminPart) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, MaxRequestsInFlight: 4}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for _, p := range parts {
			if err := p.ready(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, "not ready: "+err.Error()+"\n")
				return
			}
		}
		io.WriteString(w, "ready\n")
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		doc := map[string]any{}
		for _, p := range parts {
			for k, v := range p.status() {
				doc[k] = v
			}
		}
		writeJSON(w, http.StatusOK, doc)
	})
	for _, p := range parts {
		if p.routes != nil {
			p.routes(mux)
		}
	}
	return mux
}

// adminServer is a node's admin listener.
type adminServer struct {
	ln  net.Listener
	srv *http.Server
}

// listenAdmin binds addr and serves h on it behind the guard of the
// topology's admin section: its Host names, and the admin token for
// mutating requests (refused when none is configured, which it logs).
func listenAdmin(t *configs.Topology, ref configs.NodeRef, addr, dataDir string, h http.Handler, log *slog.Logger) (*adminServer, error) {
	token, err := adminToken(t, ref, dataDir)
	if err != nil {
		return nil, err
	}
	if token == "" {
		log.Warn(admin.NoTokenWarning)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listen %s: %w", addr, err)
	}
	return &adminServer{ln: ln, srv: controlServer(admin.Guard{Token: token, Hosts: t.Admin.Hosts}.Handler(h), log)}, nil
}

// adminToken is the token of the node's mutating admin routes: for a dns
// node dns.admin_token_env's, if set; else the fleet's (admin.token_env,
// admin.token_file); "" for none.
func adminToken(t *configs.Topology, ref configs.NodeRef, dataDir string) (string, error) {
	if env := t.DNS.AdminTokenEnv; env != "" && ref.Role == configs.RoleDNS {
		token := os.Getenv(env)
		if token == "" {
			return "", fmt.Errorf("dns.admin_token_env: %s is empty or not set", env)
		}
		return token, nil
	}
	return admin.LoadToken(t.Admin, dataDir)
}

func (a *adminServer) addr() string { return a.ln.Addr().String() }

// serve serves until shutdown; it returns nil after a shutdown.
func (a *adminServer) serve() error {
	if err := a.srv.Serve(a.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin: %w", err)
	}
	return nil
}

func (a *adminServer) shutdown(ctx context.Context) {
	if err := a.srv.Shutdown(ctx); err != nil {
		a.srv.Close()
	}
}
