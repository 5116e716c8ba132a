package natsbus

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ServerConfig configures an embedded NATS server with JetStream.
type ServerConfig struct {
	// Name is the server's name, unique in a cluster. Required.
	Name string
	// Dir is the JetStream file store's directory. Required.
	Dir string
	// Host and Port are the client listener; Port -1 picks a free port
	// (tests), 0 means NATS's default 4222.
	Host string
	Port int
	// NoListen serves in-process clients only (no TCP listener).
	NoListen bool
	// Cluster, when ClusterName is set, joins a NATS cluster: the route
	// listener is ClusterHost:ClusterPort (-1: a free port) and Routes are
	// the other servers' route URLs (nats-route://host:port).
	ClusterName string
	ClusterHost string
	ClusterPort int
	Routes      []string
	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
}

// Server is a running embedded NATS server.
type Server struct {
	ns *server.Server
}

// StartServer starts an embedded NATS server and waits until it accepts
// connections.
func StartServer(cfg ServerConfig) (*Server, error) {
	if cfg.Name == "" || cfg.Dir == "" {
		return nil, fmt.Errorf("nats server: name and dir are required")
	}
	opts := &server.Options{
		ServerName: cfg.Name,
		Host:       cfg.Host,
		Port:       cfg.Port,
		DontListen: cfg.NoListen,
		JetStream:  true,
		StoreDir:   cfg.Dir,
		NoSigs:     true,
		NoLog:      cfg.Logger == nil,
	}
	if cfg.ClusterName != "" {
		opts.Cluster = server.ClusterOpts{Name: cfg.ClusterName, Host: cfg.ClusterHost, Port: cfg.ClusterPort}
		routes, err := parseRoutes(cfg.Routes)
		if err != nil {
			return nil, err
		}
		opts.Routes = routes
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server %s: %w", cfg.Name, err)
	}
	if cfg.Logger != nil {
		ns.SetLoggerV2(&slogger{log: cfg.Logger.With("nats_server", cfg.Name)}, false, false, false)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("nats server %s: not ready after 10s", cfg.Name)
	}
	return &Server{ns: ns}, nil
}

func parseRoutes(urls []string) ([]*url.URL, error) {
	var routes []*url.URL
	for _, u := range urls {
		r := server.RoutesFromStr(u)
		if len(r) == 0 {
			return nil, fmt.Errorf("nats server: bad route URL %q", u)
		}
		routes = append(routes, r...)
	}
	return routes, nil
}

// ClientURL is the URL clients connect to ("" with NoListen).
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// RouteURL is the URL other cluster members route to ("" outside a cluster).
func (s *Server) RouteURL() string {
	addr := s.ns.ClusterAddr()
	if addr == nil {
		return ""
	}
	return "nats-route://" + net.JoinHostPort(addr.IP.String(), strconv.Itoa(addr.Port))
}

// Shutdown stops the server and waits until it stopped.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// slogger adapts the server's logger interface to slog.
type slogger struct{ log *slog.Logger }

func (l *slogger) Noticef(format string, v ...any) { l.log.Info(fmt.Sprintf(format, v...)) }
func (l *slogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *slogger) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *slogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *slogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *slogger) Tracef(format string, v ...any)  {}

// Name is the server's name.
func (s *Server) Name() string { return s.ns.Name() }
