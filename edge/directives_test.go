package edge_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/internal/testkit"
)

// tiers is one cache in front of an origin, or an edge in front of a
// shield in front of it: the client talks to front.
type tiers struct {
	origin *harness // the harness whose edge is the shield (or the only tier)
	front  *httptest.Server
}

// startTiers runs n (1 or 2) cache tiers in front of an origin running fn;
// opts adjust every tier's config.
func startTiers(t *testing.T, n int, fn http.HandlerFunc, opts ...func(*edge.Config)) tiers {
	t.Helper()
	if n == 1 {
		hs := newHarness(t, fn, opts...)
		return tiers{origin: hs, front: hs.edge}
	}
	shieldOpts := append([]func(*edge.Config){func(c *edge.Config) { c.ClientFacing = false; c.Node = "shield" }}, opts...)
	shield := newHarness(t, fn, shieldOpts...)
	return tiers{origin: shield, front: edgeBehind(t, shield, "edge-a", opts...)}
}

// get sends a GET to the front tier; hdr is pairs of names and values.
func (ts tiers) get(t *testing.T, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	return edgeGet(t, ts.front, path, hdr...)
}

// do sends a request with any method to the front tier.
func (ts tiers) do(t *testing.T, method, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.front.URL+path, nil)
	req.Host = "www.cdn.test"
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	tr := ts.front.Client().Transport.(*http.Transport).Clone()
	tr.DisableCompression = true
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// etagged is an origin of one object with validator "a" that answers a
// matching If-None-Match with a 304.
func etagged(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age=600")
	w.Header().Set("ETag", `"a"`)
	if r.Header.Get("If-None-Match") == `"a"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write([]byte("x"))
}

// TestRequestDirectivesHoldThroughTiers: a client directive that makes the
// edge refuse its stored copy makes the shield refuse its own too, so the
// origin is asked; one the stored copy satisfies is a hit everywhere.
func TestRequestDirectivesHoldThroughTiers(t *testing.T) {
	tests := []struct {
		name string
		req  []string
		hits int64 // origin requests in all, the first fill included
		age  string
	}{
		{"max-age below age", []string{"Cache-Control", "max-age=50"}, 2, "0"},
		{"max-age=0", []string{"Cache-Control", "max-age=0"}, 2, "0"},
		{"min-fresh beyond ttl", []string{"Cache-Control", "min-fresh=550"}, 2, "0"},
		{"no-cache", []string{"Cache-Control", "no-cache"}, 2, "0"},
		{"pragma no-cache", []string{"Pragma", "no-cache"}, 2, "0"},
		{"max-age above age", []string{"Cache-Control", "max-age=200"}, 1, "100"},
		{"min-fresh within ttl", []string{"Cache-Control", "min-fresh=400"}, 1, "100"},
		{"none", nil, 1, "100"},
	}
	for _, n := range []int{1, 2} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%d-tiers", tt.name, n), func(t *testing.T) {
				ts := startTiers(t, n, fixed("x", "Cache-Control", "max-age=600"))
				ts.get(t, "/x")
				ts.origin.clock.Advance(100 * time.Second)
				resp, body := ts.get(t, "/x", tt.req...)
				if resp.StatusCode != 200 || body != "x" {
					t.Fatalf("%d %q", resp.StatusCode, body)
				}
				ts.origin.expectHits(tt.hits)
				if got := resp.Header.Get("Age"); got != tt.age {
					t.Errorf("Age %q, want %q (Cache-Status %q)", got, tt.age, resp.Header.Get("Cache-Status"))
				}
			})
		}
	}
}

// TestNoCacheOnFreshEntryIsFwdRequest: RFC 9211 says fwd=request when the
// stored response was fresh but the request did not allow its use.
func TestNoCacheOnFreshEntryIsFwdRequest(t *testing.T) {
	want := map[int]string{
		1: "tern-test-edge; fwd=request; fwd-status=304; stored",
		2: "tern-shield; fwd=request; fwd-status=304; stored, tern-edge-a; fwd=request; fwd-status=304; stored",
	}
	for n, status := range want {
		ts := startTiers(t, n, etagged)
		ts.get(t, "/x")
		for _, req := range [][]string{{"Cache-Control", "no-cache"}, {"Cache-Control", "max-age=5"}, {"Cache-Control", "min-fresh=595"}} {
			ts.origin.clock.Advance(10 * time.Second)
			resp, body := ts.get(t, "/x", req...)
			if resp.StatusCode != 200 || body != "x" || resp.Header.Get("Cache-Status") != status {
				t.Errorf("%d tiers, %v: %d %q, Cache-Status %q, want %q", n, req, resp.StatusCode, body, resp.Header.Get("Cache-Status"), status)
			}
		}
		// Stale, it is fwd=stale as before.
		ts.origin.clock.Advance(time.Hour)
		resp, _ := ts.get(t, "/x", "Cache-Control", "no-cache")
		if got := resp.Header.Get("Cache-Status"); !strings.HasSuffix(got, "; fwd=stale; fwd-status=304; stored") {
			t.Errorf("%d tiers, stale: Cache-Status %q", n, got)
		}
	}
}

// TestIgnoreRequestDirectives: a site that ignores client directives
// serves its stored copy to no-cache, max-age=0 and no-store requests,
// through one tier and two, but still honours only-if-cached, which never
// reaches the origin.
func TestIgnoreRequestDirectives(t *testing.T) {
	ignore := func(c *edge.Config) { c.Sites[0].Policy.IgnoreRequestDirectives = true }
	for _, n := range []int{1, 2} {
		ts := startTiers(t, n, fixed("x", "Cache-Control", "max-age=600"), ignore)
		if resp, _ := ts.get(t, "/cold", "Cache-Control", "only-if-cached"); resp.StatusCode != http.StatusGatewayTimeout {
			t.Errorf("%d tiers: only-if-cached miss: %d", n, resp.StatusCode)
		}
		ts.origin.expectHits(0)
		ts.get(t, "/x", "Cache-Control", "no-store")
		for _, req := range [][]string{{"Cache-Control", "no-cache"}, {"Pragma", "no-cache"}, {"Cache-Control", "max-age=0"}, {"Cache-Control", "min-fresh=9999"}} {
			resp, body := ts.get(t, "/x", req...)
			if resp.StatusCode != 200 || body != "x" || !strings.Contains(resp.Header.Get("Cache-Status"), "; hit") {
				t.Errorf("%d tiers, %v: %d %q %q", n, req, resp.StatusCode, body, resp.Header.Get("Cache-Status"))
			}
		}
		ts.origin.expectHits(1)
	}
}

// blockingOrigin answers after release is called. The test registers
// release as a cleanup after starting the servers, so a failed test never
// leaves a handler blocked when they close.
func blockingOrigin() (fn http.HandlerFunc, release func()) {
	ch := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(ch) }) }
	return func(w http.ResponseWriter, r *http.Request) {
		<-ch
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("X-Req-Cache-Control", r.Header.Get("Cache-Control"))
		w.Write([]byte("x"))
	}, open
}

// TestDirectiveFillsCollapse: a request that may not be answered from a
// cache never joins an ordinary fill (which a shield may answer from its
// cache), at either tier; an ordinary request may join a no-cache fill,
// whose answer is at least as fresh as it needs.
func TestDirectiveFillsCollapse(t *testing.T) {
	for _, n := range []int{1, 2} {
		for _, dir := range []string{"no-cache", "max-age=0", "min-fresh=60"} {
			t.Run(fmt.Sprintf("%s/%d-tiers", dir, n), func(t *testing.T) {
				fn, release := blockingOrigin()
				ts := startTiers(t, n, fn)
				t.Cleanup(release)
				var wg sync.WaitGroup
				statuses := make([]string, 2)
				get := func(i int, hdr ...string) {
					wg.Add(1)
					go func() {
						defer wg.Done()
						resp, body := ts.get(t, "/x", hdr...)
						if resp.StatusCode != 200 || body != "x" {
							t.Errorf("request %d: %d %q", i, resp.StatusCode, body)
						}
						statuses[i] = resp.Header.Get("Cache-Status")
					}()
				}
				get(0)
				testkit.Eventually(t, 5*time.Second, "ts.origin.hits() == 1", func() bool { return ts.origin.hits() == 1 })
				get(1, "Cache-Control", dir)
				// The directive request makes its own fetch, at every tier.
				testkit.Eventually(t, 5*time.Second, "ts.origin.hits() == 2", func() bool { return ts.origin.hits() == 2 })
				if got := ts.origin.origin.lastHeader().Get("Cache-Control"); got != dir {
					t.Errorf("%d tiers: origin got Cache-Control %q, want %q", n, got, dir)
				}
				release()
				wg.Wait()
			})
		}
		t.Run(fmt.Sprintf("ordinary joins no-cache/%d-tiers", n), func(t *testing.T) {
			fn, release := blockingOrigin()
			ts := startTiers(t, n, fn)
			t.Cleanup(release)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				ts.get(t, "/x", "Cache-Control", "no-cache")
			}()
			testkit.Eventually(t, 5*time.Second, "ts.origin.hits() == 1", func() bool { return ts.origin.hits() == 1 })
			done := make(chan string, 1)
			go func() {
				resp, _ := ts.get(t, "/x")
				done <- resp.Header.Get("Cache-Status")
			}()
			if n == 1 { // at two tiers the origin count tells
				testkit.Eventually(t, 5*time.Second, `ts.origin.metric("tern_edge_collapsed_waiters_total") >= 1`, func() bool { return ts.origin.metric("tern_edge_collapsed_waiters_total") >= 1 })
			}
			release()
			status := <-done
			wg.Wait()
			if n == 1 && !strings.Contains(status, "collapsed") {
				t.Errorf("ordinary request did not join: %q", status)
			}
			ts.origin.expectHits(1)
		})
	}
}
