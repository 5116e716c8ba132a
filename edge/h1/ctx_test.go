package h1

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestContextWatchIsLazy: the background read that notices a client
// leaving starts only once the handler asks for Done.
func TestContextWatchIsLazy(t *testing.T) {
	type state struct{ before, after bool }
	got := make(chan state, 1)
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := r.Context().(*reqCtx)
		reading := func() bool {
			x.c.r.mu.Lock()
			defer x.c.r.mu.Unlock()
			return x.c.r.inRead
		}
		before := reading()
		r.Context().Done()
		got <- state{before, reading()}
	}))
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	c.response("GET")
	if s := <-got; s.before || !s.after {
		t.Fatalf("background read before Done: %v, after: %v; want false, true", s.before, s.after)
	}
}

// TestClientGonePolled: a handler that only polls Err also learns that
// the client left.
func TestClientGonePolled(t *testing.T) {
	entered, result := make(chan struct{}), make(chan error, 1)
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Context().Err()
		close(entered)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		deadline := time.After(bound)
		for r.Context().Err() == nil {
			select {
			case <-tick.C:
			case <-deadline:
				result <- errors.New("Err stayed nil")
				return
			}
		}
		result <- r.Context().Err()
	}))
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	<-entered
	c.Close()
	if err := <-result; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// TestBackgroundReadKeepsByte: a next request that arrives while the
// handler watches its context is read by the background read; its first
// byte is kept for it.
func TestBackgroundReadKeepsByte(t *testing.T) {
	watching, kept := make(chan struct{}), make(chan bool, 1)
	_, addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/1" {
			x := r.Context().(*reqCtx)
			r.Context().Done()
			close(watching)
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			deadline := time.After(bound)
			for {
				x.c.r.mu.Lock()
				has := x.c.r.hasByte
				x.c.r.mu.Unlock()
				if has {
					kept <- true
					break
				}
				select {
				case <-tick.C:
					continue
				case <-deadline:
					kept <- false
				}
				break
			}
		}
		io.WriteString(w, r.URL.Path)
	}))
	c := dial(t, addr)
	c.send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n")
	<-watching
	c.send("GET /2 HTTP/1.1\r\nHost: a\r\n\r\n")
	if !<-kept {
		t.Fatal("the background read never took the next request's first byte")
	}
	for _, want := range []string{"/1", "/2"} {
		if got := bodyOf(t, c.response("GET")); got != want {
			t.Fatalf("body %q, want %q", got, want)
		}
	}
}
