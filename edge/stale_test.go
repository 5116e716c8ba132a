package edge_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/internal/testkit"
)

func TestStaleWhileRevalidate(t *testing.T) {
	var version atomic.Int64
	release := make(chan struct{})
	var blocking atomic.Bool
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if blocking.Load() {
			<-release
		}
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=60")
		w.Write([]byte{byte('0' + version.Add(1))})
	})
	hs.get("/x")
	hs.clock.Advance(30 * time.Second)
	blocking.Store(true)

	// Stale is served at once, many times, while one refresh is held at
	// the origin.
	for i := 0; i < 20; i++ {
		r := hs.get("/x")
		if r.body != "1" || !strings.Contains(r.status(), "detail=stale-while-revalidate") {
			t.Fatalf("request %d: %q %q", i, r.body, r.status())
		}
	}
	close(release)
	testkit.Eventually(t, 5*time.Second, "the revalidated body to be served from cache", func() bool {
		r := hs.get("/x")
		return r.body == "2" && strings.Contains(r.status(), "hit")
	})
	hs.expectHits(2)
}

func TestStaleWhileRevalidateSiteDefault(t *testing.T) {
	hs := newHarness(t, fixed("x", "Cache-Control", "max-age=10"), func(c *edge.Config) {
		c.Sites[0].Policy.StaleWhileRevalidate = time.Minute
	})
	hs.get("/x")
	// The client can have the body before the fill stores it, and a
	// clock moved before that stores nothing (it is already expired).
	hs.h.WaitSettled(t)
	hs.clock.Advance(30 * time.Second)
	if r := hs.get("/x"); !strings.Contains(r.status(), "stale-while-revalidate") {
		t.Fatalf("site default not applied: %q", r.status())
	}
	// Past the window the stale copy is not served without revalidation.
	hs2 := newHarness(t, fixed("x", "Cache-Control", "max-age=10"), func(c *edge.Config) {
		c.Sites[0].Policy.StaleWhileRevalidate = time.Minute
	})
	hs2.get("/x")
	hs2.h.WaitSettled(t)
	hs2.clock.Advance(100 * time.Second)
	if r := hs2.get("/x"); !strings.Contains(r.status(), "fwd=stale") {
		t.Fatalf("beyond the window: %q", r.status())
	}
	hs2.expectHits(2)
}

func TestStaleIfError(t *testing.T) {
	var fail atomic.Int64 // 0 ok, 1 answer 503, 2 drop the connection
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		switch fail.Load() {
		case 1:
			w.WriteHeader(503)
			return
		case 2:
			hj, _ := w.(http.Hijacker)
			c, _, _ := hj.Hijack()
			c.Close()
			return
		}
		w.Header().Set("Cache-Control", "max-age=10, stale-if-error=600")
		w.Write([]byte("good"))
	})
	hs.get("/x")
	hs.clock.Advance(60 * time.Second)
	for mode, want := range map[int64]string{1: "fwd-status=503", 2: "fwd-status=502"} {
		fail.Store(mode)
		r := hs.get("/x")
		if r.code != 200 || r.body != "good" || !strings.Contains(r.status(), "detail=stale-if-error") || !strings.Contains(r.status(), want) {
			t.Errorf("mode %d: %d %q %q", mode, r.code, r.body, r.status())
		}
	}
	// Beyond stale-if-error the error reaches the client.
	hs.clock.Advance(time.Hour)
	fail.Store(1)
	if r := hs.get("/x"); r.code != 503 {
		t.Errorf("beyond stale-if-error: %d", r.code)
	}
	fail.Store(2)
	if r := hs.get("/x"); r.code != 502 {
		t.Errorf("beyond stale-if-error, connection dropped: %d", r.code)
	}
}

func TestStaleIfErrorOnTimeout(t *testing.T) {
	var slow atomic.Bool
	stop := make(chan struct{})
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			select {
			case <-stop:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Cache-Control", "max-age=1")
		w.Write([]byte("good"))
	}, func(c *edge.Config) {
		c.UpstreamTimeout = 200 * time.Millisecond
		c.Sites[0].Policy.StaleIfError = time.Hour
	})
	defer close(stop)
	hs.get("/x")
	hs.clock.Advance(time.Minute)
	slow.Store(true)
	if r := hs.get("/x"); r.body != "good" || !strings.Contains(r.status(), "fwd-status=504") {
		t.Fatalf("timeout: %d %q %q", r.code, r.body, r.status())
	}
	if r := hs.get("/nothing-stored"); r.code != 504 {
		t.Fatalf("timeout without stale: %d", r.code)
	}
}

func TestCollapsing(t *testing.T) {
	const clients = 200
	body := strings.Repeat("abcdefgh", 64<<10) // 512 KiB
	release := make(chan struct{})
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte(body))
	})
	var wg sync.WaitGroup
	errs := make(chan string, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := hs.get("/big")
			if r.code != 200 || r.body != body {
				errs <- r.status()
			}
		}()
	}
	// Let every client reach the edge before the origin answers.
	testkit.Eventually(t, 5*time.Second, "every client to wait on the collapsed fill", func() bool {
		return hs.metric("tern_edge_collapsed_waiters_total") >= clients-1
	})
	close(release)
	wg.Wait()
	close(errs)
	for s := range errs {
		t.Errorf("bad response, Cache-Status %q", s)
	}
	hs.expectHits(1)
}

// TestCollapsedWaitersStream checks that waiters get the first bytes of a
// slow response before the origin has finished it.
func TestCollapsedWaitersStream(t *testing.T) {
	first := strings.Repeat("a", 64<<10)
	finish := make(chan struct{})
	hs := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", "131072")
		w.Write([]byte(first))
		w.(http.Flusher).Flush()
		<-finish
		w.Write([]byte(strings.Repeat("b", 64<<10)))
	})
	got := make(chan int, 3)
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", hs.edge.URL+"/slow", nil)
			req.Host = "www.cdn.test"
			resp, err := hs.edge.Client().Do(req)
			if err != nil {
				got <- -1
				return
			}
			defer resp.Body.Close()
			buf := make([]byte, len(first))
			n, _ := io.ReadFull(resp.Body, buf)
			got <- n
			io.ReadAll(resp.Body)
		}()
	}
	for i := 0; i < 3; i++ {
		select {
		case n := <-got:
			if n != len(first) {
				t.Fatalf("client read %d bytes of the first part", n)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("waiters did not receive the first part before the origin finished")
		}
	}
	close(finish)
	wg.Wait()
	hs.expectHits(1)
}
