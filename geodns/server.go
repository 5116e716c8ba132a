package geodns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// ServerConfig sets how a Server listens.
type ServerConfig struct {
	// Addr is the UDP and TCP address, e.g. 127.0.0.1:8053; port 0 picks a
	// free port (the same for both).
	Addr string
	// UDPSockets bound to Addr with SO_REUSEPORT, each read by its own
	// goroutine. Default: GOMAXPROCS.
	UDPSockets int
	// TCPMaxConns open at once. When all are open, a new connection
	// closes the one idle longest. Default 512.
	TCPMaxConns int
	// TCPMaxPerClient open at once from one client network (a /24 or a
	// /56); more are closed at once. Default 32.
	TCPMaxPerClient int
	// TCPIdle closes a connection idle this long; a query must also arrive
	// whole within it. Default 10s.
	TCPIdle time.Duration
	// RateLimit limits UDP responses; nil for none.
	RateLimit *RateLimiter
	Logger    *slog.Logger
}

// Server serves a Responder over UDP and TCP. It reads packets itself,
// rather than through dns.Server, because the fast path and the ECS checks
// need the query's bytes, which dns.Server unpacks before a handler sees
// them.
type Server struct {
	cfg  ServerConfig
	resp *Responder
	m    *metrics
	log  *slog.Logger
	udp  []*net.UDPConn
	tcp  *net.TCPListener
	addr netip.AddrPort

	wg        sync.WaitGroup
	mu        sync.Mutex
	conns     map[net.Conn]*tcpConn
	perClient map[netip.Prefix]int
	uses      atomic.Uint64 // orders TCP connections by last use
	done      bool
}

// Listen binds the server's sockets.
func Listen(cfg ServerConfig, resp *Responder, m *metrics) (*Server, error) {
	if cfg.UDPSockets <= 0 {
		cfg.UDPSockets = runtime.GOMAXPROCS(0)
	}
	if cfg.TCPMaxConns <= 0 {
		cfg.TCPMaxConns = 512
	}
	if cfg.TCPMaxPerClient <= 0 {
		cfg.TCPMaxPerClient = 32
	}
	if cfg.TCPIdle <= 0 {
		cfg.TCPIdle = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, resp: resp, m: m, log: cfg.Logger, conns: map[net.Conn]*tcpConn{}, perClient: map[netip.Prefix]int{}}
	var err error
	// With port 0 the UDP port is picked first; TCP may find it taken, so
	// try a few times.
	for range 5 {
		if err = s.bind(); err == nil {
			return s, nil
		}
		s.closeSockets()
	}
	return nil, err
}

func (s *Server) bind() error {
	lc := reusePort()
	ctx := context.Background()
	first, err := lc.ListenPacket(ctx, "udp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("dns listen udp %s: %w", s.cfg.Addr, err)
	}
	s.udp = []*net.UDPConn{first.(*net.UDPConn)}
	s.addr = first.LocalAddr().(*net.UDPAddr).AddrPort()
	bound := net.JoinHostPort(hostOf(s.cfg.Addr), fmt.Sprint(s.addr.Port()))
	for len(s.udp) < s.cfg.UDPSockets {
		pc, err := lc.ListenPacket(ctx, "udp", bound)
		if err != nil {
			// Without SO_REUSEPORT (other systems) one socket serves.
			break
		}
		s.udp = append(s.udp, pc.(*net.UDPConn))
	}
	ln, err := net.Listen("tcp", bound)
	if err != nil {
		return fmt.Errorf("dns listen tcp %s: %w", bound, err)
	}
	s.tcp = ln.(*net.TCPListener)
	return nil
}

func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

// ListenWithMetrics is Listen with the server's metrics registered on
// reg, labelled by sel's data centers.
func ListenWithMetrics(cfg ServerConfig, resp *Responder, sel *Selector, reg prometheus.Registerer) (*Server, error) {
	return Listen(cfg, resp, newMetrics(reg, sel.names()))
}

// Close releases the sockets of a server that will not Serve.
func (s *Server) Close() { s.closeSockets() }

func (s *Server) closeSockets() {
	for _, c := range s.udp {
		c.Close()
	}
	s.udp = nil
	if s.tcp != nil {
		s.tcp.Close()
		s.tcp = nil
	}
}

// Addr is the address served (UDP and TCP).
func (s *Server) Addr() netip.AddrPort { return s.addr }

// Serve answers queries until ctx ends, then closes every socket and
// connection and returns once all its goroutines have stopped.
func (s *Server) Serve(ctx context.Context) error {
	for _, c := range s.udp {
		s.wg.Go(func() { s.serveUDP(c) })
	}
	// The listener is handed over here: closeSockets clears s.tcp, and a
	// context cancelled at once could clear it before serveTCP reads it
	// (it then spun on a nil listener's errors forever).
	ln := s.tcp
	s.wg.Go(func() { s.serveTCP(ln) })
	<-ctx.Done()
	s.mu.Lock()
	s.done = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.closeSockets()
	s.wg.Wait()
	return nil
}

// maxResponse is the buffer for one response; TCP responses may be 64 KiB.
const maxResponse = 65535 + 2

// serveUDPSimple answers a socket's queries one read and one write at a
// time (systems without recvmmsg).
func (s *Server) serveUDPSimple(c *net.UDPConn) {
	buf := make([]byte, 65535)
	out := make([]byte, 0, maxResponse)
	q := &query{places: new(placeCache)}
	t := s.m.newTally()
	for {
		s.m.flush(t)
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		client := from.Addr().Unmap()
		resp := s.handle(t, q, out, buf[:n], client, true)
		if resp != nil {
			c.WriteToUDPAddrPort(resp, from)
		}
	}
}

// handle answers one query, counts it in t and applies the rate limit
// (UDP). A panic becomes SERVFAIL, so that no query takes the server down.
func (s *Server) handle(t *tally, q *query, out, req []byte, client netip.Addr, udp bool) (resp []byte) {
	t.seen++
	var start time.Time
	if t.seen%latencySample == 0 {
		start = time.Now()
	}
	var res result
	defer func() {
		if p := recover(); p != nil {
			s.m.panics.Inc()
			s.log.Error("dns query panicked", "client", client, "panic", p, "stack", string(debug.Stack()))
			resp = nil
			if len(req) >= headerLen {
				resp = s.resp.errorReply(q, out, dns.RcodeServerFailure, &res)
			}
		}
	}()
	resp, res = s.resp.Respond(q, out, req, client, udp)
	if resp != nil && udp && s.cfg.RateLimit != nil {
		kind, name, qtype := rrlKind(&res, q)
		switch v := s.cfg.RateLimit.Check(client, kind, name, qtype); v {
		case Drop:
			t.limited[v]++
			resp = nil
		case Slip:
			t.limited[v]++
			resp = slip(resp, q)
		}
	}
	t.count(&res)
	if !start.IsZero() {
		s.m.latency.Observe(time.Since(start).Seconds())
	}
	return resp
}

// rrlKind gives the rate limiter's kind, name and type of a response.
func rrlKind(res *result, q *query) (byte, []byte, uint16) {
	switch {
	case res.rcode == dns.RcodeNameError && res.zone != nil:
		return kindNXDomain, res.zone.originKey, 0
	case res.rcode != dns.RcodeSuccess:
		return kindError, nil, 0
	case res.nodata:
		return kindNoData, q.name(), 0
	}
	return kindAnswer, q.name(), q.qtype
}

// slip turns a response into its truncated form: the header with TC and
// the question, no records, so the client asks again over TCP.
func slip(resp []byte, q *query) []byte {
	if q.qend == 0 || q.qend > len(resp) || q.qdcount != 1 {
		return nil
	}
	resp = resp[:q.qend]
	resp[2] |= flagTC >> 8
	binary.BigEndian.PutUint16(resp[6:], 0)
	binary.BigEndian.PutUint16(resp[8:], 0)
	binary.BigEndian.PutUint16(resp[10:], 0)
	return resp
}

func (s *Server) serveTCP(ln *net.TCPListener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // EMFILE and the like
			continue
		}
		s.mu.Lock()
		tc, ok := s.admit(c)
		s.mu.Unlock()
		if !ok {
			s.m.tcpRejected.Inc()
			c.Close()
			continue
		}
		s.wg.Go(func() {
			defer func() {
				s.mu.Lock()
				s.forget(tc)
				s.mu.Unlock()
				c.Close()
			}()
			s.serveConn(tc)
		})
	}
}

func remoteAddr(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// serveConn answers the queries of one TCP connection in order (RFC 7766
// pipelining), until the client closes it, sends garbage, or is idle.
func (s *Server) serveConn(tc *tcpConn) {
	c := tc.c
	client := remoteAddr(c)
	var lenBuf [2]byte
	req := make([]byte, 0, 512)
	out := make([]byte, 2, maxResponse)
	q := &query{places: new(placeCache)}
	t := s.m.newTally()
	for {
		s.m.flush(t)
		c.SetReadDeadline(time.Now().Add(s.cfg.TCPIdle))
		if _, err := io.ReadFull(c, lenBuf[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(lenBuf[:]))
		if n < headerLen {
			return
		}
		req = req[:0]
		if cap(req) < n {
			req = make([]byte, 0, n)
		}
		req = req[:n]
		if _, err := io.ReadFull(c, req); err != nil {
			return
		}
		s.touch(tc)
		resp := s.handle(t, q, out[2:2], req, client, false)
		s.m.flush(t)
		if resp == nil {
			return
		}
		msg := append(out[:0], byte(len(resp)>>8), byte(len(resp)))
		msg = append(msg, resp...)
		c.SetWriteDeadline(time.Now().Add(s.cfg.TCPIdle))
		if _, err := c.Write(msg); err != nil {
			return
		}
	}
}
