package edge_test

import (
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
)

// edgeBehind starts an edge handler whose upstream is the shield at
// shieldURL, on the shield harness's clock. Options adjust its config.
func edgeBehind(t *testing.T, shield *harness, name string, opts ...func(*edge.Config)) *httptest.Server {
	t.Helper()
	mem, err := store.NewMemory(16 << 20)
	if err != nil {
		t.Fatal(err)
	}
	return edgeBehindWith(t, shield, name, mem, opts...)
}

// edgeBehindWith is edgeBehind with mem as the edge's store, closed at the
// end of the test.
func edgeBehindWith(t *testing.T, shield *harness, name string, mem *store.Memory, opts ...func(*edge.Config)) *httptest.Server {
	t.Helper()
	u, _ := url.Parse(shield.edge.URL)
	tr := &http.Transport{DisableCompression: true}
	cfg := edge.Config{
		Node: name, Sites: []edge.Site{{Name: "test", Hosts: []string{"www.cdn.test"}, Origin: u}},
		Upstream: tr, Shielded: true, ClientFacing: true, Store: mem,
		Registerer: prometheus.NewRegistry(), Now: shield.clock.Now,
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	h, err := edge.NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := newEdgeServer(t, h)
	t.Cleanup(func() { srv.Close(); h.Close(); mem.Close(); tr.CloseIdleConnections() })
	return srv
}

func edgeGet(t *testing.T, srv *httptest.Server, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	req.Host = "www.cdn.test"
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestAgeAcrossTiers: an object 50 s old at the shield with max-age=60 is
// fresh at an edge for 10 s at most; the edge then revalidates against the
// shield, which revalidates against the origin with a 304.
func TestAgeAcrossTiers(t *testing.T) {
	shield := newHarness(t, fixed("x", "Cache-Control", "max-age=60", "ETag", `"a"`),
		func(c *edge.Config) { c.ClientFacing = false; c.Node = "shield" })
	shield.get("/x") // the shield stores it at t0
	shield.h.WaitSettled(t)
	shield.clock.Advance(50 * time.Second)

	e := edgeBehind(t, shield, "edge-a")
	resp, _ := edgeGet(t, e, "/x")
	if got := resp.Header.Get("Age"); got != "50" {
		t.Errorf("edge Age %q, want 50", got)
	}
	if got := resp.Header.Get("Cache-Status"); got != "tern-shield; hit; ttl=10, tern-edge-a; fwd=miss; stored" {
		t.Errorf("Cache-Status %q", got)
	}
	shield.clock.Advance(5 * time.Second)
	resp, _ = edgeGet(t, e, "/x")
	if got := resp.Header.Get("Cache-Status"); got != "tern-edge-a; hit; ttl=5" {
		t.Errorf("edge hit Cache-Status %q", got)
	}
	// Past the shield's freshness, both revalidate; the validators pass
	// through, and the origin answers 304.
	shield.origin.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"a"`)
		if r.Header.Get("If-None-Match") == `"a"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write([]byte("x"))
	})
	shield.clock.Advance(10 * time.Second)
	resp, body := edgeGet(t, e, "/x")
	if body != "x" || !strings.Contains(resp.Header.Get("Cache-Status"), "tern-edge-a; fwd=stale") {
		t.Errorf("after expiry: %q %q", body, resp.Header.Get("Cache-Status"))
	}
	if !strings.Contains(resp.Header.Get("Cache-Status"), "tern-shield; fwd=stale; fwd-status=304") {
		t.Errorf("the shield did not revalidate with a 304: %q", resp.Header.Get("Cache-Status"))
	}
	shield.expectHits(2)
}
