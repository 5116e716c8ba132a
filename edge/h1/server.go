package h1

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the Server's zero fields.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
)

// ErrServerClosed is what Serve returns after Shutdown or Close; it is
// net/http's, so callers can treat both servers alike.
var ErrServerClosed = http.ErrServerClosed

// Server serves HTTP/1.0 and HTTP/1.1 over plain connections.
type Server struct {
	// Handler answers every request; it must not keep the
	// ResponseWriter after ServeHTTP returns (it may keep the request).
	Handler http.Handler

	// ReadHeaderTimeout bounds the reading of a request head, from its
	// first byte (and a new connection's wait for it). Zero means
	// DefaultReadHeaderTimeout; negative means none.
	ReadHeaderTimeout time.Duration

	// IdleTimeout bounds the wait for a next request on a kept-alive
	// connection. Zero means DefaultIdleTimeout; negative means none.
	IdleTimeout time.Duration

	// WriteTimeout, if positive, bounds each response, from the end of
	// its request's head. Zero means none.
	WriteTimeout time.Duration

	// MaxHeaderBytes bounds a request head (request line and fields); a
	// larger one is answered 431. Zero means DefaultMaxHeaderBytes.
	MaxHeaderBytes int

	// ConnContext, if set, derives the context of a connection's
	// requests, once per connection, from a context that holds the
	// connection's local address under http.LocalAddrContextKey.
	ConnContext func(ctx context.Context, c net.Conn) context.Context

	// Logger gets connection-level events: refused requests at debug
	// level, handler panics at error level. Nil discards them.
	Logger *slog.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]connState
	drained   chan struct{} // closed when conns empties during a shutdown
	shutting  atomic.Bool
	wg        sync.WaitGroup
	date      atomic.Pointer[date]
}

type connState int

const (
	stateIdle connState = iota // between requests (or before the first)
	stateActive
)

func (s *Server) readHeaderTimeout() time.Duration {
	return orDefault(s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
}

func (s *Server) idleTimeout() time.Duration { return orDefault(s.IdleTimeout, DefaultIdleTimeout) }

func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 1<<63 - 1
	}
	return d
}

func (s *Server) maxHeaderBytes() int {
	if s.MaxHeaderBytes > 0 {
		return s.MaxHeaderBytes
	}
	return DefaultMaxHeaderBytes
}

func (s *Server) shuttingDown() bool { return s.shutting.Load() }

// Serve accepts connections on ln and serves each in its own goroutine
// until Shutdown or Close, then returns ErrServerClosed. It closes ln.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.shuttingDown() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[*conn]connState)
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	var backoff time.Duration
	for {
		rwc, err := ln.Accept()
		if err != nil {
			if s.shuttingDown() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTooManyFiles) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logger().Error("h1: accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := s.newConn(rwc)
		if !s.track(c) {
			rwc.Close()
			return ErrServerClosed
		}
		go func() {
			defer s.untrack(c)
			c.serve()
		}()
	}
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shuttingDown() {
		return false
	}
	s.conns[c] = stateIdle
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if len(s.conns) == 0 && s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
	s.mu.Unlock()
	s.wg.Done()
}

// setState records c's move between requests; it reports false (and c
// should close) when the server is shutting down and c is or would be
// idle.
func (s *Server) setState(c *conn, st connState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shuttingDown() && st == stateIdle {
		return false
	}
	if s.shuttingDown() && s.conns[c] == stateIdle && st == stateActive {
		// Shutdown has closed it, or is about to.
		return false
	}
	s.conns[c] = st
	return true
}

// Shutdown stops accepting, closes idle connections and waits for active
// ones to finish their request (each then closes) until ctx ends; then it
// closes what is left and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutting.Store(true)
	for ln := range s.listeners {
		ln.Close()
	}
	for c, st := range s.conns {
		if st == stateIdle {
			c.rwc.Close()
		}
	}
	var drained chan struct{}
	if len(s.conns) > 0 {
		if s.drained == nil {
			s.drained = make(chan struct{})
		}
		drained = s.drained
	}
	s.mu.Unlock()
	if drained != nil {
		select {
		case <-drained:
		case <-ctx.Done():
			s.Close()
			return ctx.Err()
		}
	}
	s.wg.Wait()
	return nil
}

// Close closes the listeners and every connection at once; it does not
// wait for handlers.
func (s *Server) Close() error {
	s.mu.Lock()
	s.shutting.Store(true)
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.rwc.Close()
	}
	s.mu.Unlock()
	return nil
}
