package edge_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/edge/httpcache"
	"github.com/tern-cdn/tern/edge/store"
	"github.com/tern-cdn/tern/internal/testkit"
)

// testOrigin is a loopback origin that counts requests and records the
// last one's header.
type testOrigin struct {
	*httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	last http.Header
	fn   http.HandlerFunc
}

func (o *testOrigin) lastHeader() http.Header {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

func (o *testOrigin) setHandler(fn http.HandlerFunc) {
	o.mu.Lock()
	o.fn = fn
	o.mu.Unlock()
}

type harness struct {
	t      *testing.T
	origin *testOrigin
	edge   *httptest.Server
	h      *edge.Handler
	store  *store.Memory
	reg    *prometheus.Registry
	clock  *testkit.Clock
	client *http.Client
}

// newHarness starts an origin running fn and an edge in front of it, both
// on loopback. Options adjust the edge config.
func newHarness(t *testing.T, fn http.HandlerFunc, opts ...func(*edge.Config)) *harness {
	t.Helper()
	hs := &harness{t: t, clock: testkit.NewClock(), reg: prometheus.NewRegistry()}
	o := &testOrigin{fn: fn}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		o.mu.Lock()
		o.last = r.Header.Clone()
		fn := o.fn
		o.mu.Unlock()
		w.Header().Set("Date", hs.clock.Now().Format(http.TimeFormat))
		fn(w, r)
	}))
	t.Cleanup(o.Close)
	hs.origin = o

	mem, err := store.NewMemory(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mem.Close)
	hs.store = mem
	u, _ := url.Parse(o.URL)
	cfg := edge.Config{
		Node:            "test-edge",
		Sites:           []edge.Site{{Name: "test", Hosts: []string{"www.cdn.test"}, Origin: u, Policy: httpcache.Policy{HeuristicFraction: 0.1, HeuristicMax: 24 * time.Hour}}},
		Upstream:        http.DefaultTransport.(*http.Transport).Clone(),
		ClientFacing:    true,
		Store:           mem,
		UpstreamTimeout: 5 * time.Second,
		Registerer:      hs.reg,
		Now:             hs.clock.Now,
	}
	cfg.Upstream.(*http.Transport).DisableCompression = true
	for _, opt := range opts {
		opt(&cfg)
	}
	h, err := edge.NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs.h = h
	hs.edge = newEdgeServer(t, h)
	// A client that shows the edge's responses as they are: no redirects
	// followed, no Accept-Encoding added or decoded behind the test's back.
	hs.client = hs.edge.Client()
	hs.client.Transport.(*http.Transport).DisableCompression = true
	hs.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	t.Cleanup(func() {
		hs.edge.Close()
		h.Close()
		cfg.Upstream.(*http.Transport).CloseIdleConnections()
	})
	return hs
}

// result is a response with its body read.
type result struct {
	code   int
	header http.Header
	body   string
}

func (r result) status() string { return r.header.Get("Cache-Status") }

// do sends a request for path to the edge with Host www.cdn.test; hdr is
// pairs of header names and values.
func (hs *harness) do(method, path string, hdr ...string) result {
	hs.t.Helper()
	req, err := http.NewRequest(method, hs.edge.URL+path, nil)
	if err != nil {
		hs.t.Fatal(err)
	}
	req.Host = "www.cdn.test"
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := hs.client.Do(req)
	if err != nil {
		hs.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		hs.t.Fatal(err)
	}
	return result{code: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (hs *harness) get(path string, hdr ...string) result {
	hs.t.Helper()
	return hs.do(http.MethodGet, path, hdr...)
}

func (hs *harness) hits() int64 { return hs.origin.hits.Load() }

// expectHits fails the test unless the origin has seen n requests.
func (hs *harness) expectHits(n int64) {
	hs.t.Helper()
	if got := hs.hits(); got != n {
		hs.t.Fatalf("origin requests = %d, want %d", got, n)
	}
}

// fixed returns an origin handler that always sends body with the given
// header pairs.
func fixed(body string, hdr ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Add(hdr[i], hdr[i+1])
		}
		io.WriteString(w, body)
	}
}

// metric sums the samples of a metric family in the harness's registry
// whose labels include the given name/value pairs.
func (hs *harness) metric(name string, labels ...string) float64 {
	hs.t.Helper()
	return testkit.Sum(hs.t, hs.reg, name, labels...)
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	return ctx, cancel
}
