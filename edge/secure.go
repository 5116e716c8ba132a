package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// SecureServer serves one handler over TLS on TCP (HTTP/1.1 and HTTP/2,
// by ALPN) and over HTTP/3 on UDP, on the same address. Every response over
// TCP carries Alt-Svc announcing HTTP/3 on the UDP port.
type SecureServer struct {
	tcp *http.Server
	ln  net.Listener
	h3  *http3.Server
	udp net.PacketConn
}

// ListenSecure binds addr on TCP and the same port on UDP. tlsConf must
// provide the certificates (GetCertificate or Certificates).
func ListenSecure(addr string, h http.Handler, tlsConf *tls.Config, log *slog.Logger) (*SecureServer, error) {
	return listenSecure(addr, h, tlsConf, false, log)
}

// ListenSecure0RTT is ListenSecure with QUIC 0-RTT accepted: requests
// that arrive in early data (which an attacker can replay) are served
// only for safe methods; others get 425 Too Early (RFC 8470), and the
// client retries them after the handshake.
func ListenSecure0RTT(addr string, h http.Handler, tlsConf *tls.Config, log *slog.Logger) (*SecureServer, error) {
	return listenSecure(addr, h, tlsConf, true, log)
}

// quicConnKey carries a request's QUIC connection in its context.
type quicConnKey struct{}

// earlyDataGate answers 425 to unsafe requests that early reports as
// received in 0-RTT data.
func earlyDataGate(h http.Handler, early func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if early(r) {
				w.Header().Set("Cache-Status", "tern; fwd=bypass; detail=too-early")
				http.Error(w, "425 Too Early: retry after the handshake", http.StatusTooEarly)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// inEarlyData reports whether the request's QUIC handshake was still
// incomplete, so the request came in 0-RTT data.
func inEarlyData(r *http.Request) bool {
	c, ok := r.Context().Value(quicConnKey{}).(*quic.Conn)
	if !ok {
		return false
	}
	select {
	case <-c.HandshakeComplete():
		return false
	default:
		return true
	}
}

func listenSecure(addr string, h http.Handler, tlsConf *tls.Config, allow0RTT bool, log *slog.Logger) (*SecureServer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	// The same port on UDP, also when addr asked for any port.
	udp, err := net.ListenPacket("udp", ln.Addr().String())
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("listen udp %s: %w", ln.Addr(), err)
	}
	s := &SecureServer{ln: ln, udp: udp}
	h3Handler := h
	if allow0RTT {
		h3Handler = earlyDataGate(h, inEarlyData)
	}
	s.h3 = &http3.Server{
		Handler:   h3Handler,
		TLSConfig: tlsConf,
		// 0-RTT data can be replayed by an attacker: off unless asked for,
		// and then only safe methods are served from it.
		QUICConfig: &quic.Config{Allow0RTT: allow0RTT},
		ConnContext: func(ctx context.Context, c *quic.Conn) context.Context {
			ctx = withClientConn(ctx, func() {
				c.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeExcessiveLoad), "too many abandoned requests")
			})
			return context.WithValue(ctx, quicConnKey{}, c)
		},
		MaxHeaderBytes: maxHeaderBytes,
		IdleTimeout:    idleTimeout,
		Logger:         log,
	}
	tcpConf := tlsConf.Clone()
	// h2 and HTTP/1.1, and any extra protocol the caller offers (the ACME
	// TLS-ALPN-01 challenge's acme-tls/1).
	tcpConf.NextProtos = append([]string{"h2", "http/1.1"}, tlsConf.NextProtos...)
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	s.tcp = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.h3.SetQUICHeaders(w.Header())
			h.ServeHTTP(w, r)
		}),
		TLSConfig:         tcpConf,
		ConnContext:       tcpConnContext,
		Protocols:         protocols,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	if err := serveH2Batched(s.tcp); err != nil {
		ln.Close()
		udp.Close()
		return nil, err
	}
	s.ln = batchListener{ln}
	return s, nil
}

// Addr is the bound address (TCP and UDP).
func (s *SecureServer) Addr() net.Addr { return s.ln.Addr() }

// Serve serves TCP and UDP until Shutdown; it returns nil after a shutdown.
func (s *SecureServer) Serve() error {
	h3err := make(chan error, 1)
	go func() { h3err <- s.h3.Serve(s.udp) }()
	err := s.tcp.ServeTLS(s.ln, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if e := <-h3err; err == nil && e != nil && !errors.Is(e, http.ErrServerClosed) && !errors.Is(e, quic.ErrServerClosed) {
		err = e
	}
	return err
}

// Shutdown stops accepting on both, lets requests finish until ctx ends
// (HTTP/3 sends GOAWAY), then closes what is left.
func (s *SecureServer) Shutdown(ctx context.Context) error {
	err := s.tcp.Shutdown(ctx)
	if err != nil {
		s.tcp.Close()
	}
	if e := s.h3.Shutdown(ctx); e != nil {
		s.h3.Close()
	}
	s.udp.Close()
	return err
}
