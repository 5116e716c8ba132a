package edge

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sync"

	"golang.org/x/net/http2"
)

// maxBatch bounds the bytes a batchConn gathers before it writes: a
// client may ask for DATA frames of up to 16 MiB, whose records must not
// all be copied.
const maxBatch = 64 << 10

// batchBufs lends the buffers of batches in progress, so an idle
// connection holds none.
var batchBufs = sync.Pool{New: func() any { return new([maxBatch]byte) }}

// batchConn is the TCP connection under a TLS connection of the HTTP/2
// server. crypto/tls makes one write system call per record, and HTTP/2's
// DATA frames of 16 KiB (a 9-byte header and 16,384 bytes, one more than a
// record holds) take two records each, the second of 31 bytes: half the
// write calls of a large response. While the HTTP/2 server's write to the
// TLS connection is in progress (batchedTLS), the records it makes are
// gathered here and leave in one write when it returns.
//
// Writes of the TLS layer are serialized by crypto/tls (a record is
// written under its output lock), so the only writer besides the held
// one is the reading side's (an alert, a key update), which lands in the
// same batch or waits for it on mu.
type batchConn struct {
	net.Conn
	mu   sync.Mutex
	held bool
	buf  *[maxBatch]byte // from batchBufs while a batch has bytes
	n    int             // bytes in buf
	err  error           // of the last write of a batch; later writes fail with it
}

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if !c.held {
		return c.Conn.Write(p)
	}
	if c.n+len(p) > maxBatch {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > maxBatch {
			return c.Conn.Write(p)
		}
	}
	if c.buf == nil {
		c.buf = batchBufs.Get().(*[maxBatch]byte)
	}
	c.n += copy(c.buf[c.n:], p)
	return len(p), nil
}

func (c *batchConn) hold() {
	c.mu.Lock()
	c.held = true
	c.mu.Unlock()
}

// release writes what the hold gathered.
func (c *batchConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = false
	return c.flushLocked()
}

func (c *batchConn) flushLocked() error {
	if c.buf == nil {
		return c.err
	}
	var err error
	if c.err == nil {
		_, err = c.Conn.Write(c.buf[:c.n])
		c.err = err
	}
	batchBufs.Put(c.buf)
	c.buf, c.n = nil, 0
	return err
}

// batchedTLS is the TLS connection the HTTP/2 server writes to: each of
// its writes is one batch of records.
type batchedTLS struct {
	*tls.Conn
	raw *batchConn
}

func (c batchedTLS) Write(p []byte) (int, error) {
	c.raw.hold()
	n, err := c.Conn.Write(p)
	if ferr := c.raw.release(); err == nil && ferr != nil {
		return 0, ferr
	}
	return n, err
}

// batchListener makes every accepted connection a batchConn.
type batchListener struct{ net.Listener }

func (l batchListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &batchConn{Conn: c}, nil
}

// serveH2Batched configures srv's HTTP/2 (x/net/http2, the code net/http
// bundles) to write through batchedTLS when the TLS connection's
// transport is a batchConn.
func serveH2Batched(srv *http.Server) error {
	h2 := &http2.Server{}
	if err := http2.ConfigureServer(srv, h2); err != nil {
		return fmt.Errorf("configure http2: %w", err)
	}
	srv.TLSNextProto["h2"] = func(hs *http.Server, c *tls.Conn, h http.Handler) {
		var conn net.Conn = c
		if raw, ok := c.NetConn().(*batchConn); ok {
			conn = batchedTLS{c, raw}
		}
		// net/http passes the connection's base context (ConnContext's)
		// on the handler, as it does to its own HTTP/2 server.
		var ctx context.Context
		if bc, ok := h.(interface{ BaseContext() context.Context }); ok {
			ctx = bc.BaseContext()
		}
		//lint:ignore SA1019 ServeConn is the one entry that takes a net.Conn
		h2.ServeConn(conn, &http2.ServeConnOpts{Context: ctx, Handler: h, BaseConfig: hs})
	}
	return nil
}
