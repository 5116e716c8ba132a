package geodns

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchSize is how many packets one recvmmsg or sendmmsg moves. Under load
// it turns two system calls per query into two per batch; idle, a batch is
// one packet and nothing waits for more.
const batchSize = 32

// spinTries: after a batch, the socket is read again this many times,
// yielding in between, before the goroutine parks in the poller. Under
// load the next queries arrive within microseconds, and a park and wake
// cost more than a few empty reads (measured: about 0.1-0.2 µs less CPU
// per query at 280k queries/s).
const spinTries = 2

// udpBufSize bounds a query read over UDP; a longer datagram is dropped
// (the kernel says MSG_TRUNC): no DNS query needs that much.
const udpBufSize = 4096

// batchConn reads and writes a UDP socket's packets in batches with
// recvmmsg and sendmmsg, through Go's poller, allocating nothing per packet.
type batchConn struct {
	rc syscall.RawConn

	in     [batchSize]unix.Mmsghdr
	inIov  [batchSize]unix.Iovec
	names  [batchSize]unix.RawSockaddrInet6 // large enough for IPv4 too
	bufs   [batchSize][]byte
	out    [batchSize]unix.Mmsghdr
	outIov [batchSize]unix.Iovec
}

func newBatchConn(c *net.UDPConn) (*batchConn, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	b := &batchConn{rc: rc}
	for i := range b.in {
		b.bufs[i] = make([]byte, udpBufSize)
		b.inIov[i] = unix.Iovec{Base: &b.bufs[i][0]}
		b.in[i].Hdr.Iov = &b.inIov[i]
		b.in[i].Hdr.Iovlen = 1
		b.in[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	}
	return b, nil
}

// read waits for packets and returns how many were read into the batch.
func (b *batchConn) read() (int, error) {
	for i := range b.in {
		b.inIov[i].Len = udpBufSize
		b.in[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		b.in[i].Hdr.Flags = 0
		b.in[i].Len = 0
	}
	var n int
	var serr error
	for range spinTries {
		var e syscall.Errno
		if err := b.rc.Control(func(fd uintptr) {
			var r uintptr
			r, _, e = unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.in[0])), batchSize, unix.MSG_DONTWAIT, 0, 0)
			n = int(r)
		}); err != nil {
			return 0, err // closed
		}
		if e == 0 {
			return n, nil
		}
		if e != unix.EAGAIN {
			break
		}
		runtime.Gosched()
	}
	err := b.rc.Read(func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.in[0])), batchSize, unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			n = int(r)
		case unix.EAGAIN:
			return false // wait for the poller
		case unix.EINTR:
			return false
		default:
			serr = e
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	return n, serr
}

// packet returns the i-th packet read and its sender; ok is false for a
// truncated datagram or an address family other than IPv4 and IPv6.
func (b *batchConn) packet(i int) (p []byte, from netip.AddrPort, ok bool) {
	h := &b.in[i]
	if h.Hdr.Flags&unix.MSG_TRUNC != 0 {
		return nil, netip.AddrPort{}, false
	}
	raw := &b.names[i]
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&raw.Port))[:])
	switch raw.Family {
	case unix.AF_INET6:
		from = netip.AddrPortFrom(netip.AddrFrom16(raw.Addr), port)
	case unix.AF_INET:
		v4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(raw))
		from = netip.AddrPortFrom(netip.AddrFrom4(v4.Addr), port)
	default:
		return nil, netip.AddrPort{}, false
	}
	return b.bufs[i][:h.Len], from, true
}

// write sends resps[k] to the sender of packet to[k], for k < n.
func (b *batchConn) write(resps [][]byte, to []int, n int) error {
	for k := range n {
		i := to[k]
		b.outIov[k] = unix.Iovec{Base: &resps[k][0], Len: uint64(len(resps[k]))}
		b.out[k] = unix.Mmsghdr{Hdr: unix.Msghdr{
			Name: b.in[i].Hdr.Name, Namelen: b.in[i].Hdr.Namelen, Iov: &b.outIov[k], Iovlen: 1,
		}}
	}
	sent := 0
	var serr error
	err := b.rc.Write(func(fd uintptr) bool {
		for sent < n {
			r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.out[sent])), uintptr(n-sent), unix.MSG_DONTWAIT, 0, 0)
			switch e {
			case 0:
				sent += int(r)
			case unix.EAGAIN:
				return false
			case unix.EINTR:
			default:
				// A packet the kernel refuses (an unreachable
				// destination): skip it, send the rest.
				serr = e
				sent++
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	return serr
}

// serveUDP answers a socket's queries in batches.
func (s *Server) serveUDP(c *net.UDPConn) {
	b, err := newBatchConn(c)
	if err != nil {
		s.serveUDPSimple(c)
		return
	}
	var (
		outs  [batchSize][]byte
		resps [batchSize][]byte
		to    [batchSize]int
	)
	for i := range outs {
		outs[i] = make([]byte, 0, udpBufSize)
	}
	q := &query{places: new(placeCache)}
	t := s.m.newTally()
	for {
		s.m.flush(t)
		n, err := b.read()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		m := 0
		for i := range n {
			req, from, ok := b.packet(i)
			if !ok {
				t.dropped++
				continue
			}
			resp := s.handle(t, q, outs[m], req, from.Addr().Unmap(), true)
			if len(resp) == 0 {
				continue
			}
			resps[m], to[m] = resp, i
			m++
		}
		if m > 0 {
			b.write(resps[:], to[:], m)
		}
	}
}
