package origin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// backend is a loopback upstream (shield or origin) that counts requests
// and answers as told: its status and Tern-Error are switchable, and as a
// shield it can proxy to an origin, answering 502 with the Tern-Error
// reason of the failure (FailureReason) when that fails, as a real shield
// does.
type backend struct {
	*httptest.Server
	name    string
	hits    atomic.Int64
	status  atomic.Int32           // 0: 200
	reason  atomic.Pointer[string] // Tern-Error of a 5xx it makes itself
	hang    atomic.Bool            // wait for the client to go away
	reset   atomic.Bool            // read the request, then drop the connection
	lastMu  sync.Mutex
	last    *http.Request // the last request's header fields
	body    string        // the last request's body
	proxyTo *httputil.ReverseProxy
}

// newBackend starts a backend named name; its answers carry
// X-Served-By: name.
func newBackend(t *testing.T, name string) *backend {
	t.Helper()
	b := &backend{name: name}
	b.Server = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.Close)
	return b
}

// proxy makes b a shield in front of the origin at base.
func (b *backend) proxy(t *testing.T, base string) {
	t.Helper()
	target, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTransport(TransportConfig{})
	t.Cleanup(tr.CloseIdleConnections)
	b.proxyTo = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		Transport: tr,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			w.Header().Set(ErrorHeader, FailureReason(err))
			w.WriteHeader(http.StatusBadGateway)
		},
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set("X-Served-By", b.name)
			return nil
		},
	}
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	b.hits.Add(1)
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body)) // for the proxy
	b.lastMu.Lock()
	b.last, b.body = r, string(body)
	b.lastMu.Unlock()
	switch {
	case b.hang.Load():
		<-r.Context().Done()
		return
	case b.reset.Load():
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
		}
		return
	case b.proxyTo != nil && b.status.Load() == 0:
		b.proxyTo.ServeHTTP(w, r)
		return
	}
	w.Header().Set("X-Served-By", b.name)
	code := int(b.status.Load())
	if code == 0 {
		code = http.StatusOK
	}
	if reason := b.reason.Load(); reason != nil && code >= 500 {
		w.Header().Set(ErrorHeader, *reason)
	}
	w.WriteHeader(code)
	fmt.Fprintf(w, "%s %s", b.name, r.URL.Path)
}

// fail makes b answer code with Tern-Error reason ("" for none).
func (b *backend) fail(code int, reason string) {
	if reason == "" {
		b.reason.Store(nil)
	} else {
		b.reason.Store(&reason)
	}
	b.status.Store(int32(code))
}

func (b *backend) lastRequest() (*http.Request, string) {
	b.lastMu.Lock()
	defer b.lastMu.Unlock()
	return b.last, b.body
}

// kill closes b's listener: connections to it are refused.
func (b *backend) kill() {
	b.CloseClientConnections()
	b.Close()
}

// testTransport returns an upstream transport closed with the test.
func testTransport(t *testing.T, cfg TransportConfig) *http.Transport {
	t.Helper()
	tr := NewTransport(cfg)
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// newTestPool builds a pool over the backends, named by their names.
func newTestPool(t *testing.T, name string, hc HealthConfig, tr http.RoundTripper, reg prometheus.Registerer, bs ...*backend) *Pool {
	t.Helper()
	var ups []UpstreamConfig
	for _, b := range bs {
		ups = append(ups, UpstreamConfig{Name: b.name, URL: b.URL})
	}
	p, err := NewPool(name, ups, hc, tr, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// byName returns the backend of upstream u.
func byName(t *testing.T, u *Upstream, bs ...*backend) *backend {
	t.Helper()
	for _, b := range bs {
		if b.name == u.Name {
			return b
		}
	}
	t.Fatalf("no backend %q", u.Name)
	return nil
}

// siteRequest is what an edge sends upstream: the origin's URL and path,
// the site's Host.
func siteRequest(t *testing.T, method, originBase, path string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, originBase+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "www.cdn.test"
	return req
}

// get sends req through rt and returns the status, the X-Served-By and
// the body.
func get(t *testing.T, rt http.RoundTripper, req *http.Request) (int, string, string) {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("X-Served-By"), string(body)
}

// ctxTimeout returns a context cancelled at the end of the test or after d.
func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
