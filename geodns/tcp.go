package geodns

import (
	"net"
	"net/netip"
	"sync/atomic"
)

// Client networks of the TCP per-client limit: one host owns at least a
// /24 or a /56 as often as an address, so a limit per address is no limit.
const (
	tcpClientBitsV4 = 24
	tcpClientBitsV6 = 56
)

// clientNet is the network a TCP client's connections count against.
func clientNet(a netip.Addr) netip.Prefix {
	bits := tcpClientBitsV6
	if a.Is4() {
		bits = tcpClientBitsV4
	}
	p, _ := a.Prefix(bits)
	return p
}

// tcpConn is an open DNS-over-TCP connection in the server's table.
type tcpConn struct {
	c   net.Conn
	net netip.Prefix
	// used is the server's use counter when the connection was accepted
	// or last brought a whole query: the lowest is the one idle longest.
	used atomic.Uint64
}

// admit enters c in the table, making room when every slot is taken by
// closing the connection idle longest: a connection that sends a query now
// and then must not hold its slot against new clients (a resolver sent to
// TCP by a truncated answer among them). A client network over its share
// is refused, so one network cannot take the table. Under s.mu.
func (s *Server) admit(c net.Conn) (*tcpConn, bool) {
	tc := &tcpConn{c: c, net: clientNet(remoteAddr(c))}
	if s.done || s.perClient[tc.net] >= s.cfg.TCPMaxPerClient {
		return nil, false
	}
	if len(s.conns) >= s.cfg.TCPMaxConns {
		oldest := s.idleLongest()
		if oldest == nil {
			return nil, false
		}
		s.forget(oldest)
		oldest.c.Close()
		s.m.tcpReclaimed.Inc()
	}
	tc.used.Store(s.uses.Add(1))
	s.conns[c] = tc
	s.perClient[tc.net]++
	s.m.tcpOpen.Inc()
	return tc, true
}

func (s *Server) idleLongest() *tcpConn {
	var oldest *tcpConn
	for _, tc := range s.conns {
		if oldest == nil || tc.used.Load() < oldest.used.Load() {
			oldest = tc
		}
	}
	return oldest
}

// forget takes tc out of the table, if it is still there (admit may have
// closed it already). Under s.mu.
func (s *Server) forget(tc *tcpConn) {
	if s.conns[tc.c] != tc {
		return
	}
	delete(s.conns, tc.c)
	if s.perClient[tc.net]--; s.perClient[tc.net] <= 0 {
		delete(s.perClient, tc.net)
	}
	s.m.tcpOpen.Dec()
}

// touch marks tc used: it has brought a whole query.
func (s *Server) touch(tc *tcpConn) { tc.used.Store(s.uses.Add(1)) }
