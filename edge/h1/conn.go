package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// maxDrain is how much of a request body the server reads and drops after
// the handler returned without reading it all (as net/http's
// maxPostHandlerReadBytes); past it the connection is closed.
const maxDrain = 256 << 10

// aLongTimeAgo is a read deadline that makes a pending read return now.
var aLongTimeAgo = time.Unix(1, 0)

// conn is one client connection and its loop of requests.
type conn struct {
	s          *Server
	rwc        net.Conn
	remoteAddr string
	ctx        context.Context // the connection's, from ConnContext
	r          *connReader
	br         *bufio.Reader
	bw         *bufio.Writer
	w          response
	head       []byte      // the current request head, reused
	wmu        sync.Mutex  // serializes 100 Continue with the response
	bodyBroken atomic.Bool // a request body broke its framing
	clientGone bool        // the client closed (or timed out) between requests
}

// connReader is what the conn's bufio.Reader reads. It can read one byte
// in the background while a handler runs, to learn that the client went
// away; a byte that arrives (of a pipelined request) is kept for the next
// read.
type connReader struct {
	rwc     net.Conn
	mu      sync.Mutex
	cond    *sync.Cond
	inRead  bool
	aborted bool
	hasByte bool
	byteBuf [1]byte
}

func (cr *connReader) Read(p []byte) (int, error) {
	cr.mu.Lock()
	if cr.inRead {
		cr.mu.Unlock()
		return 0, errors.New("h1: read during a background read")
	}
	if len(p) == 0 {
		cr.mu.Unlock()
		return 0, nil
	}
	if cr.hasByte {
		p[0] = cr.byteBuf[0]
		cr.hasByte = false
		cr.mu.Unlock()
		return 1, nil
	}
	cr.mu.Unlock()
	return cr.rwc.Read(p)
}

// startBackgroundRead reads one byte in the background; if the read fails
// (the client closed or reset the connection), x is cancelled.
func (cr *connReader) startBackgroundRead(x *reqCtx) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.inRead || cr.hasByte {
		return
	}
	cr.inRead = true
	go cr.backgroundRead(x)
}

func (cr *connReader) backgroundRead(x *reqCtx) {
	n, err := cr.rwc.Read(cr.byteBuf[:])
	cr.mu.Lock()
	if n == 1 {
		cr.hasByte = true
	}
	var ne net.Error
	gone := err != nil && !(cr.aborted && errors.As(err, &ne) && ne.Timeout())
	cr.aborted = false
	cr.inRead = false
	cr.mu.Unlock()
	cr.cond.Broadcast()
	if gone {
		x.cancel(context.Canceled)
	}
}

// abortPendingRead stops a background read and waits for it to end.
func (cr *connReader) abortPendingRead() {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if !cr.inRead {
		return
	}
	cr.aborted = true
	cr.rwc.SetReadDeadline(aLongTimeAgo)
	for cr.inRead {
		cr.cond.Wait()
	}
	cr.rwc.SetReadDeadline(time.Time{})
}

func (s *Server) newConn(rwc net.Conn) *conn {
	c := &conn{s: s, rwc: rwc, remoteAddr: rwc.RemoteAddr().String()}
	c.r = &connReader{rwc: rwc}
	c.r.cond = sync.NewCond(&c.r.mu)
	c.br = bufio.NewReaderSize(c.r, 4<<10)
	c.bw = bufio.NewWriterSize(rwc, 4<<10)
	c.w.c = c
	c.w.hdr = make(http.Header)
	return c
}

// serve runs the connection's requests one after the other until one
// asks to close, fails, or the server shuts down.
func (c *conn) serve() {
	defer c.close()
	// As net/http, a request's context knows the local address.
	c.ctx = context.WithValue(context.Background(), http.LocalAddrContextKey, c.rwc.LocalAddr())
	if c.s.ConnContext != nil {
		c.ctx = c.s.ConnContext(c.ctx, c.rwc)
	}
	for first := true; ; first = false {
		if !c.awaitRequest(first) {
			return
		}
		if !c.s.setState(c, stateActive) {
			return
		}
		if !c.serveOne() {
			return
		}
		if !c.s.setState(c, stateIdle) {
			return
		}
	}
}

// close closes the connection. Input the server did not read (of a
// refused request, of a body left unread) would make the kernel reset
// the connection and could destroy the answer in flight: the server
// stops writing first and reads for a moment, as net/http does.
func (c *conn) close() {
	if c.clientGone {
		c.rwc.Close()
		return
	}
	if cw, ok := c.rwc.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		c.rwc.SetReadDeadline(time.Now().Add(lingerTime))
		io.Copy(io.Discard, io.LimitReader(c.rwc, maxDrain))
	}
	c.rwc.Close()
}

// lingerTime bounds the reading of a connection being closed.
const lingerTime = 500 * time.Millisecond

// awaitRequest waits for the first byte of a next request, within the
// idle timeout (or, for the connection's first request, the header
// timeout), and then sets the deadline for the rest of the head.
func (c *conn) awaitRequest(first bool) bool {
	if c.br.Buffered() > 0 {
		c.rwc.SetReadDeadline(time.Now().Add(c.s.readHeaderTimeout()))
		return true
	}
	wait := c.s.idleTimeout()
	if first {
		wait = c.s.readHeaderTimeout()
	}
	c.rwc.SetReadDeadline(time.Now().Add(wait))
	if _, err := c.br.Peek(1); err != nil {
		c.clientGone = true // or idle too long: nothing to say
		return false
	}
	c.rwc.SetReadDeadline(time.Now().Add(c.s.readHeaderTimeout()))
	return true
}

// serveOne reads a request, runs the handler and finishes the response;
// it reports whether the connection can serve another request.
func (c *conn) serveOne() bool {
	head, err := readHead(c.br, c.head, c.s.maxHeaderBytes())
	c.head = head[:0]
	if err != nil {
		if !c.answerError(err) {
			c.clientGone = true
		}
		return false
	}
	var req http.Request
	fr, err := parseHead(&req, head)
	if err != nil {
		c.answerError(err)
		return false
	}
	c.rwc.SetReadDeadline(time.Time{})
	if d := c.s.WriteTimeout; d > 0 {
		c.rwc.SetWriteDeadline(time.Now().Add(d))
	}

	x := &reqCtx{parent: c.ctx, c: c}
	var b *body
	if fr.chunked || fr.length > 0 {
		b = newBody(c.br, fr)
		b.c, b.ctx = c, x
		req.Body = b
	} else {
		req.Body = http.NoBody
		x.bodyDone = true
	}
	req.RemoteAddr = c.remoteAddr
	r := req.WithContext(x)

	w := &c.w
	w.reset(r, b)
	ok := c.runHandler(w, r)
	x.cancel(context.Canceled)
	c.r.abortPendingRead()
	if !ok {
		return false
	}
	if !w.finish() || w.closeAfter {
		return false
	}
	if b != nil {
		// What is left of the body gets the time of a head.
		c.rwc.SetReadDeadline(time.Now().Add(c.s.readHeaderTimeout()))
		if !b.drain(maxDrain) {
			return false
		}
	}
	return !w.closeAfter && !c.s.shuttingDown()
}

// optionsAsterisk answers OPTIONS * for the server, as net/http does:
// it asks about the server, not about a resource.
var optionsAsterisk = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header()["Content-Length"] = []string{"0"}
	w.WriteHeader(http.StatusOK)
})

// runHandler calls the handler; a panic is logged (unless it is
// http.ErrAbortHandler) and reported as false: the connection is closed
// without finishing the response.
func (c *conn) runHandler(w *response, r *http.Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				c.s.logger().Error("h1: panic serving a request",
					"remote", c.remoteAddr, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
			ok = false
		}
	}()
	h := c.s.Handler
	if r.RequestURI == "*" {
		h = optionsAsterisk
	}
	h.ServeHTTP(w, r)
	return true
}

// writeContinue sends 100 Continue, once the handler reads the body of a
// request that expects it, unless the response has begun.
func (c *conn) writeContinue() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.w.headerSent || c.w.done {
		return nil
	}
	c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	return c.bw.Flush()
}

// answerError answers a request the server refuses, then the connection
// closes. A client that went away (or timed out) gets no answer: then it
// reports false.
func (c *conn) answerError(err error) bool {
	var se *statusError
	if !errors.As(err, &se) {
		return false
	}
	c.s.logger().Debug("h1: refused a request", "remote", c.remoteAddr, "status", se.code, "reason", se.msg)
	text := fmt.Sprintf("%d %s", se.code, http.StatusText(se.code))
	c.rwc.SetWriteDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(c.bw, "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		text, len(text), text)
	c.bw.Flush()
	return true
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}
