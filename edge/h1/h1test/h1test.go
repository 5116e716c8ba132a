// Package h1test starts an httptest.Server whose connections are served
// by edge/h1, so tests written against httptest run unchanged on it.
package h1test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/tern-cdn/tern/edge/h1"
)

// NewServer is httptest.NewServer(h) served by an h1.Server with its
// default limits: the httptest.Server lends its URL, Client and Close
// (which shuts the h1.Server down, waiting up to 5 s for requests in
// progress); its own net/http server never gets a connection.
func NewServer(h http.Handler) *httptest.Server {
	ts := httptest.NewUnstartedServer(h)
	srv := &h1.Server{Handler: h}
	ln := ts.Listener
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(ln)
	}()
	ts.Listener = &parkedListener{addr: ln.Addr(), done: make(chan struct{}), stop: func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-served
	}}
	ts.Start()
	return ts
}

// parkedListener accepts nothing: it holds an httptest.Server's place
// while the h1.Server serves the real listener, and stops that server
// when closed.
type parkedListener struct {
	addr net.Addr
	done chan struct{}
	once sync.Once
	stop func()
}

func (l *parkedListener) Accept() (net.Conn, error) {
	<-l.done
	return nil, net.ErrClosed
}

func (l *parkedListener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.stop()
	})
	return nil
}

func (l *parkedListener) Addr() net.Addr { return l.addr }
