package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/tern-cdn/tern/edge/h1"
)

// Server limits for client connections. Go answers an oversized header
// with 431 and a malformed request line with 400 before the handler runs.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
)

// Server is one HTTP listener of a node.
type Server struct {
	srv *http.Server // one of srv and h1
	h1  *h1.Server
	ln  net.Listener
}

// ServerOptions choose how Listen serves.
type ServerOptions struct {
	// HTTP1 is the HTTP/1.1 server: "net" (net/http, the default when
	// empty) or "tern" (edge/h1, a strict HTTP/1.1 loop that does less
	// work per request).
	HTTP1 string
}

// Listen binds addr and prepares h to be served on it over HTTP/1.1;
// Serve starts it. Connection-level errors go to log at debug level (nil:
// discarded).
func Listen(addr string, h http.Handler, log *slog.Logger) (*Server, error) {
	return ListenWith(addr, h, log, ServerOptions{})
}

// ListenWith is Listen with a choice of HTTP/1.1 server.
func ListenWith(addr string, h http.Handler, log *slog.Logger, opts ServerOptions) (*Server, error) {
	switch opts.HTTP1 {
	case "", "net":
		return listen(addr, h, log, false)
	case "tern":
	default:
		return nil, fmt.Errorf("listen %s: unknown HTTP/1.1 server %q (want net or tern)", addr, opts.HTTP1)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return &Server{ln: ln, h1: &h1.Server{
		Handler:           h,
		ConnContext:       tcpConnContext,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		Logger:            log,
	}}, nil
}

// ListenH2C is Listen that also accepts HTTP/2 with prior knowledge
// (h2c), for shields, whose clients are edges. Client-facing listeners
// stay HTTP/1.1 here: a server that accepts h2c must wait for the 24-byte
// preface before it can answer a short garbage request.
func ListenH2C(addr string, h http.Handler, log *slog.Logger) (*Server, error) {
	return listen(addr, h, log, true)
}

func listen(addr string, h http.Handler, log *slog.Logger, h2c bool) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(h2c)
	return &Server{ln: ln, srv: &http.Server{
		Protocols:         protocols,
		Handler:           h,
		ConnContext:       tcpConnContext,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}}, nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until Shutdown; it returns nil after a shutdown.
func (s *Server) Serve() error {
	var err error
	if s.h1 != nil {
		err = s.h1.Serve(s.ln)
	} else {
		err = s.srv.Serve(s.ln)
	}
	if !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close closes the listener of a server that will not Serve.
func (s *Server) Close() error { return s.ln.Close() }

// Shutdown stops accepting, lets requests in progress finish until ctx
// ends, then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.h1 != nil {
		err := s.h1.Shutdown(ctx)
		s.ln.Close() // if Serve never ran
		return err
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	return err
}
