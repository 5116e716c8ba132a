package edge_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/edge/store"
	"github.com/tern-cdn/tern/internal/testkit"
)

// stack is one tier (an edge in front of the origin) or two (an edge in
// front of a shield in front of the origin), with the handlers in the
// order a purge reaches them: shields first.
type stack struct {
	t        *testing.T
	hs       *harness // the node next to the origin
	front    *httptest.Server
	handlers []*edge.Handler
}

// tierCases are the shapes every purge test runs through.
var tierCases = []struct {
	name  string
	tiers int
}{{"one tier", 1}, {"edge-shield-origin", 2}}

func newStack(t *testing.T, tiers int, fn http.HandlerFunc, opts ...func(*edge.Config)) *stack {
	t.Helper()
	if tiers == 1 {
		hs := newHarness(t, fn, opts...)
		return &stack{t: t, hs: hs, front: hs.edge, handlers: []*edge.Handler{hs.h}}
	}
	hs := newHarness(t, fn, append([]func(*edge.Config){func(c *edge.Config) { c.ClientFacing = false }}, opts...)...)
	mem, err := store.NewMemory(16 << 20)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(hs.edge.URL)
	tr := &http.Transport{DisableCompression: true}
	cfg := edge.Config{
		Node: "edge", Sites: []edge.Site{{Name: "test", Hosts: []string{"www.cdn.test"}, Origin: u}},
		Upstream: tr, Shielded: true, ClientFacing: true, Store: mem,
		Registerer: prometheus.NewRegistry(), Now: hs.clock.Now,
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	cfg.Sites[0].Origin = u
	h, err := edge.NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := newEdgeServer(t, h)
	t.Cleanup(func() { srv.Close(); h.Close(); mem.Close(); tr.CloseIdleConnections() })
	return &stack{t: t, hs: hs, front: srv, handlers: []*edge.Handler{hs.h, h}}
}

func (s *stack) get(path string, hdr ...string) result {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.front.URL+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Host = "www.cdn.test"
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, h := range s.handlers {
		h.WaitSettled(s.t)
	}
	return result{code: resp.StatusCode, header: resp.Header, body: string(b)}
}

// purge applies inv to every tier, shields first, then moves the clock on
// so that what is fetched next arrives after the purge.
func (s *stack) purge(inv edge.Invalidation) int {
	s.t.Helper()
	total := 0
	for _, h := range s.handlers {
		n, err := h.Invalidate(context.Background(), inv)
		if err != nil {
			s.t.Fatalf("Invalidate(%+v): %v", inv, err)
		}
		total += n
	}
	s.hs.clock.Advance(time.Second)
	return total
}

// expect fetches each path and checks that the origin was asked for the
// ones marked true and not for the others, and that the body is right.
func (s *stack) expect(when string, paths map[string]bool, hdr ...string) {
	s.t.Helper()
	for p, miss := range paths {
		before := s.hs.hits()
		r := s.get(p, hdr...)
		if r.code != http.StatusOK || r.body != "body of "+p {
			s.t.Errorf("%s: GET %s = %d %q", when, p, r.code, r.body)
		}
		if got := s.hs.hits() - before; (got > 0) != miss {
			s.t.Errorf("%s: GET %s %v: origin requests %d, want a miss=%v (%s)", when, p, hdr, got, miss, r.status())
		}
	}
}

// tagOrigin answers "body of <path>" for an hour, with the tags its path
// names: /sk/... carries Surrogate-Key "t <path>", /ct/... Cache-Tag
// "t,<path>", and /var/... varies on Accept-Encoding.
func tagOrigin(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "max-age=3600")
	h.Set("ETag", `"`+r.URL.Path+`"`)
	switch {
	case strings.HasPrefix(r.URL.Path, "/sk/"):
		h.Set("Surrogate-Key", "t "+r.URL.Path)
	case strings.HasPrefix(r.URL.Path, "/ct/"):
		h.Set("Cache-Tag", "t,"+r.URL.Path)
	case strings.HasPrefix(r.URL.Path, "/var/"):
		h.Set("Vary", "Accept-Encoding")
	}
	io.WriteString(w, "body of "+r.URL.Path)
}

func TestInvalidateURLEveryVariant(t *testing.T) {
	for _, tc := range tierCases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, tc.tiers, tagOrigin)
			gz := []string{"Accept-Encoding", "gzip"}
			s.expect("cold", map[string]bool{"/var/a": true, "/p~q": true, "/other": true})
			s.expect("cold gzip", map[string]bool{"/var/a": true}, gz...)
			s.expect("warm", map[string]bool{"/var/a": false, "/p~q": false, "/other": false})
			s.expect("warm gzip", map[string]bool{"/var/a": false}, gz...)

			if n := s.purge(edge.Invalidation{Site: "test", URLs: []string{"/var/a", "http://www.cdn.test/p%7eq"}}); n != 2*tc.tiers {
				t.Errorf("Invalidate removed %d objects, want %d (2 per tier)", n, 2*tc.tiers)
			}
			s.expect("after the purge", map[string]bool{"/var/a": true, "/p~q": true, "/other": false})
			s.expect("after the purge, gzip", map[string]bool{"/var/a": true}, gz...)
			s.expect("refilled", map[string]bool{"/var/a": false, "/p~q": false})
		})
	}
}

func TestInvalidatePrefixSiteAndEverything(t *testing.T) {
	for _, tc := range tierCases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, tc.tiers, tagOrigin)
			all := map[string]bool{"/img/1": true, "/img/2": true, "/js/1": true, "/var/a": true}
			s.expect("cold", all)

			s.purge(edge.Invalidation{Site: "test", Prefixes: []string{"/img/"}})
			s.expect("after the prefix purge", map[string]bool{"/img/1": true, "/img/2": true, "/js/1": false, "/var/a": false})

			s.purge(edge.Invalidation{Site: "test", All: true})
			s.expect("after the site purge", all)
			s.expect("refilled", map[string]bool{"/img/1": false, "/js/1": false, "/var/a": false})

			s.purge(edge.Invalidation{All: true})
			s.expect("after purging everything", all)
		})
	}
}

func TestInvalidateTag(t *testing.T) {
	for _, tc := range tierCases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, tc.tiers, tagOrigin)
			s.expect("cold", map[string]bool{"/sk/1": true, "/ct/1": true, "/sk/2": true, "/js/1": true})
			r := s.get("/sk/1")
			if v := r.header.Values("Surrogate-Key"); len(v) > 0 {
				t.Errorf("client got Surrogate-Key %q", v)
			}
			if v := s.get("/ct/1").header.Values("Cache-Tag"); len(v) > 0 {
				t.Errorf("client got Cache-Tag %q", v)
			}
			if n := s.purge(edge.Invalidation{Site: "test", Tags: []string{"t"}}); n != 3*tc.tiers {
				t.Errorf("tag purge removed %d objects, want %d", n, 3*tc.tiers)
			}
			s.expect("after the tag purge", map[string]bool{"/sk/1": true, "/ct/1": true, "/sk/2": true, "/js/1": false})
			s.purge(edge.Invalidation{Site: "test", Tags: []string{"/ct/1"}})
			s.expect("after purging one object's own tag", map[string]bool{"/sk/1": false, "/ct/1": true})
		})
	}
}

// A site may ask for the tags to reach clients; shields always keep them
// for the edges behind them.
func TestSurrogateKeysToClients(t *testing.T) {
	s := newStack(t, 2, tagOrigin)
	if v := s.hs.get("/sk/1").header.Get("Surrogate-Key"); v != "t /sk/1" {
		t.Errorf("shield's answer to an edge: Surrogate-Key %q, want %q", v, "t /sk/1")
	}
	send := newStack(t, 2, tagOrigin, func(c *edge.Config) { c.Sites[0].SendSurrogateKeys = true })
	if v := send.get("/ct/1").header.Get("Cache-Tag"); v != "t,/ct/1" {
		t.Errorf("site with SendSurrogateKeys: client got Cache-Tag %q, want %q", v, "t,/ct/1")
	}
}

// TestSoftPurge: a soft purge leaves the entry stale, served while it is
// revalidated (in the background with stale-while-revalidate), and the
// origin's 304 makes it fresh again; a hard purge then is a full fetch.
func TestSoftPurge(t *testing.T) {
	for _, tc := range tierCases {
		for _, swr := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s swr=%v", tc.name, swr), func(t *testing.T) {
				cc := "max-age=3600"
				if swr {
					cc += ", stale-while-revalidate=60"
				}
				var notModified int
				fn := func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Cache-Control", cc)
					w.Header().Set("ETag", `"v1"`)
					if r.Header.Get("If-None-Match") == `"v1"` {
						notModified++
						w.WriteHeader(http.StatusNotModified)
						return
					}
					io.WriteString(w, "body of "+r.URL.Path)
				}
				s := newStack(t, tc.tiers, fn)
				s.expect("cold", map[string]bool{"/a": true, "/b": true})
				s.purge(edge.Invalidation{Site: "test", URLs: []string{"/a"}, Soft: true})

				before := s.hs.hits()
				r := s.get("/a")
				if r.code != 200 || r.body != "body of /a" {
					t.Fatalf("after a soft purge: %d %q", r.code, r.body)
				}
				if swr && !strings.Contains(r.status(), "stale-while-revalidate") {
					t.Errorf("after a soft purge with stale-while-revalidate: Cache-Status %q, want a stale answer", r.status())
				}
				testkit.Within(5*time.Second, func() bool { return s.hs.hits() != before })
				for _, h := range s.handlers {
					h.WaitSettled(t)
				}
				if got := s.hs.hits() - before; got != 1 || notModified != 1 {
					t.Errorf("revalidation after a soft purge: %d origin requests, %d answered 304; want 1 and 1", got, notModified)
				}
				s.expect("revalidated", map[string]bool{"/a": false, "/b": false})

				s.purge(edge.Invalidation{Site: "test", URLs: []string{"/a"}})
				before, notModified = s.hs.hits(), 0
				s.get("/a")
				if s.hs.hits()-before != 1 || notModified != 0 {
					t.Errorf("after a hard purge: %d origin requests, %d 304; want a full fetch", s.hs.hits()-before, notModified)
				}
			})
		}
	}
}

// Bans and the tag index are kept with the disk tier: after a restart, a
// prefix purge made before it still applies to what the disk kept, and a
// tag purge finds what was stored before it.
func TestPurgesSurviveRestart(t *testing.T) {
	re := newRestartableEdge(t, tagOrigin)
	for _, p := range []string{"/img/1", "/sk/1", "/js/1"} {
		if r := re.hs.get(p); r.code != 200 {
			t.Fatalf("GET %s: %d", p, r.code)
		}
	}
	re.hs.h.WaitSettled(t)
	if _, err := re.hs.h.Invalidate(context.Background(), edge.Invalidation{Site: "test", Prefixes: []string{"/img/"}}); err != nil {
		t.Fatal(err)
	}
	re.restart()
	re.hs.clock.Advance(time.Second)
	check := func(when, path string, miss bool) {
		t.Helper()
		before := re.hs.hits()
		r := re.hs.get(path)
		re.hs.h.WaitSettled(t)
		if r.code != 200 || r.body != "body of "+path || (re.hs.hits() > before) != miss {
			t.Errorf("%s: GET %s = %d %q, origin asked %v, want %v (%s)", when, path, r.code, r.body, re.hs.hits() > before, miss, r.status())
		}
	}
	check("after a restart", "/js/1", false)
	check("after a restart, banned before it", "/img/1", true)
	check("after a restart, refilled", "/img/1", false)

	n, err := re.hs.h.Invalidate(context.Background(), edge.Invalidation{Site: "test", Tags: []string{"t"}})
	if err != nil || n != 1 {
		t.Errorf("tag purge after a restart: %d, %v; want 1 object", n, err)
	}
	re.hs.clock.Advance(time.Second)
	check("after a tag purge", "/sk/1", true)
}

func TestInvalidateRefuses(t *testing.T) {
	hs := newHarness(t, tagOrigin)
	for _, inv := range []edge.Invalidation{
		{},
		{Site: "test"},
		{Site: "nope", All: true},
		{URLs: []string{"/a"}},
		{Site: "test", URLs: []string{"http://other.test/a"}},
		{Site: "test", Prefixes: []string{"img/"}},
	} {
		if _, err := hs.h.Invalidate(context.Background(), inv); err == nil {
			t.Errorf("Invalidate(%+v) accepted", inv)
		}
	}
}
