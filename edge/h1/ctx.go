package h1

import (
	"context"
	"sync"
	"time"
)

// reqCtx is a request's context. It is cancelled when the handler returns
// or when the client goes away, but watching for the latter costs a
// background read of the connection, so that read starts only when
// somebody first asks for Done (or Err): a cache hit that never waits on
// its context pays for none of it.
type reqCtx struct {
	parent context.Context
	c      *conn

	mu       sync.Mutex
	done     chan struct{} // nil until asked for
	err      error
	bodyDone bool // the request body is read to its end (or there is none)
	watching bool // a watch of the connection is wanted or running
	stop     func() bool
}

// closedchan is the Done of a context cancelled before anyone asked.
var closedchan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func (x *reqCtx) Deadline() (time.Time, bool) { return x.parent.Deadline() }
func (x *reqCtx) Value(key any) any           { return x.parent.Value(key) }

func (x *reqCtx) Done() <-chan struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done == nil {
		if x.err != nil {
			return closedchan
		}
		x.done = make(chan struct{})
		x.watchLocked()
		if x.parent.Done() != nil {
			x.stop = context.AfterFunc(x.parent, func() { x.cancel(context.Cause(x.parent)) })
		}
	}
	return x.done
}

func (x *reqCtx) Err() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.err == nil && !x.watching {
		// Somebody polls: from now on the connection is watched.
		x.watchLocked()
	}
	return x.err
}

// watchLocked starts the background read now, or once the request body
// has been read: until then the connection's bytes are the body's.
func (x *reqCtx) watchLocked() {
	if x.watching || x.err != nil {
		return
	}
	x.watching = true
	if x.bodyDone {
		x.c.r.startBackgroundRead(x)
	}
}

// bodyEOF records that the request body is read; a wanted watch starts.
func (x *reqCtx) bodyEOF() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.bodyDone {
		return
	}
	x.bodyDone = true
	if x.watching && x.err == nil {
		x.c.r.startBackgroundRead(x)
	}
}

// cancel ends the context with err; later calls do nothing.
func (x *reqCtx) cancel(err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.err != nil {
		return
	}
	x.err = err
	x.c = nil // a request kept by the handler does not keep the connection
	if x.done != nil {
		close(x.done)
	}
	if x.stop != nil {
		x.stop()
	}
}

func (x *reqCtx) String() string { return "h1.requestContext" }
