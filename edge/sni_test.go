package edge_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/tern-cdn/tern/cmd/tern/node"
	"github.com/tern-cdn/tern/configs"
	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/internal/testkit"
)

// sniTopology has a lax site (TLS 1.2, two hosts) and a strict one (TLS
// 1.3 only) behind one edge with HTTPS, both in front of originURL.
func sniTopology(originURL string) testkit.Topology {
	return testkit.Topology{
		Sites: []testkit.Site{
			{Name: "lax", Hosts: []string{"www.cdn.test", "alias.cdn.test"}, Origin: originURL},
			{Name: "strict", Hosts: []string{"strict.cdn.test"}, Origin: originURL, Extra: "https:\n  min_version: \"1.3\""},
		},
		Datacenters: []testkit.Datacenter{{Name: "dc", Edges: []testkit.Node{{Name: "edge-1", Host: "127.0.1.1", TLS: true}}}},
		Extra:       "tls:\n  mode: local",
	}
}

// startSNIEdge runs an edge of sniTopology and returns its HTTPS address
// and the roots that trust it.
func startSNIEdge(t *testing.T, originURL string) (string, *x509.CertPool) {
	t.Helper()
	top := sniTopology(originURL).Parse(t)
	ref, _ := top.Lookup("edge-1")
	n, roots := startTLSNode(t, top, ref)
	return n.TLSListen, roots
}

// startTLSNode runs the node ref of top (with tls.mode local) until the
// test ends and returns it and the roots that trust its certificates.
func startTLSNode(t *testing.T, top *configs.Topology, ref configs.NodeRef) (*node.Node, *x509.CertPool) {
	t.Helper()
	n, err := node.New(top, ref, node.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Run(t, 10*time.Second, n.Run)
	pem, err := os.ReadFile(n.CARoot)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	return n, roots
}

// sniClient is a client of proto ("h1", "h2", "h3") that always dials addr
// and sends SNI sni, with TLS at most maxVersion (0: any), whatever the
// request's host.
func sniClient(t *testing.T, proto, addr, sni string, roots *x509.CertPool, maxVersion uint16) *http.Client {
	t.Helper()
	conf := &tls.Config{RootCAs: roots, ServerName: sni, MaxVersion: maxVersion}
	if proto == "h3" {
		tr := &http3.Transport{TLSClientConfig: conf,
			Dial: func(ctx context.Context, _ string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
				return quic.DialAddrEarly(ctx, addr, tc, qc)
			}}
		t.Cleanup(func() { tr.Close() })
		return &http.Client{Transport: tr}
	}
	tr := &http.Transport{TLSClientConfig: conf, Protocols: new(http.Protocols),
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}
	if proto == "h2" {
		tr.Protocols.SetHTTP2(true)
	} else {
		tr.Protocols.SetHTTP1(true)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// TestSNIHostMismatch: the TLS version is chosen by SNI and the site by
// Host, so a request whose Host names another site than its connection's
// SNI gets 421 (and never reaches the origin): a TLS 1.2 connection made
// for the lax site cannot carry requests for the 1.3-only one, over h1 or
// h2, and no site can be fronted behind another's SNI, over h3 too. Hosts
// of one site share connections.
func TestSNIHostMismatch(t *testing.T) {
	var hits atomic.Int64
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "site "+r.Host)
	}))
	t.Cleanup(o.Close)
	addr, roots := startSNIEdge(t, o.URL)
	_, port, _ := net.SplitHostPort(addr)
	tests := []struct {
		proto, sni, host string
		maxVersion       uint16
		code             int
	}{
		{"h1", "www.cdn.test", "strict.cdn.test", tls.VersionTLS12, http.StatusMisdirectedRequest},
		{"h2", "www.cdn.test", "strict.cdn.test", tls.VersionTLS12, http.StatusMisdirectedRequest},
		{"h1", "www.cdn.test", "strict.cdn.test", 0, http.StatusMisdirectedRequest},
		{"h2", "strict.cdn.test", "www.cdn.test", 0, http.StatusMisdirectedRequest},
		{"h3", "www.cdn.test", "strict.cdn.test", 0, http.StatusMisdirectedRequest},
		{"h3", "strict.cdn.test", "www.cdn.test", 0, http.StatusMisdirectedRequest},
		// Controls: the right SNI, or another host of the same site.
		{"h1", "www.cdn.test", "www.cdn.test", tls.VersionTLS12, http.StatusOK},
		{"h2", "www.cdn.test", "alias.cdn.test", tls.VersionTLS12, http.StatusOK},
		{"h2", "strict.cdn.test", "strict.cdn.test", 0, http.StatusOK},
		{"h3", "strict.cdn.test", "strict.cdn.test", 0, http.StatusOK},
	}
	var want int64
	for _, tt := range tests {
		c := sniClient(t, tt.proto, addr, tt.sni, roots, tt.maxVersion)
		req, _ := http.NewRequest("GET", "https://"+tt.host+":"+port+"/x", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Errorf("%+v: %v", tt, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("%s SNI %s Host %s (TLS max %x): %d %q, want %d", tt.proto, tt.sni, tt.host, tt.maxVersion, resp.StatusCode, b, tt.code)
		}
		if tt.code == http.StatusOK {
			want++
		}
	}
	if got := hits.Load(); got != want {
		t.Errorf("origin requests: %d, want %d (the controls only)", got, want)
	}
}

// TestSiteMinTLSVersionInHandler: behind a listener that does not choose
// the TLS version by SNI, the handler itself refuses a request below its
// site's minimum version with 421.
func TestSiteMinTLSVersionInHandler(t *testing.T) {
	hs := newHarness(t, fixed("x"), func(c *edge.Config) { c.Sites[0].MinTLSVersion = tls.VersionTLS13 })
	addr, roots := startSecure(t, hs)
	_, port, _ := net.SplitHostPort(addr)
	for _, tt := range []struct {
		maxVersion uint16
		code       int
	}{{tls.VersionTLS12, http.StatusMisdirectedRequest}, {0, http.StatusOK}} {
		resp, err := sniClient(t, "h2", addr, "www.cdn.test", roots, tt.maxVersion).Get("https://www.cdn.test:" + port + "/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("TLS max %x: %d, want %d", tt.maxVersion, resp.StatusCode, tt.code)
		}
	}
	hs.expectHits(1)
}
