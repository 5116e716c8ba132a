//go:build !linux

package geodns

import "net"

func (s *Server) serveUDP(c *net.UDPConn) { s.serveUDPSimple(c) }
