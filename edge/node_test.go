package edge_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tern-cdn/tern/cmd/tern/node"
	"github.com/tern-cdn/tern/configs"
	"github.com/tern-cdn/tern/internal/testkit"
)

// demoOnFreePorts loads the demo topology and starts its nodes one by one
// on port 0 of their own addresses, pointing each tier at the ports the
// one before it got. It returns the running nodes by name.
func demoOnFreePorts(t *testing.T) map[string]*node.Node {
	t.Helper()
	top, err := configs.Demo()
	if err != nil {
		t.Fatal(err)
	}
	top.Purge = configs.Purge{} // no purge bus: these nodes run without one
	top.Origins[0].Root = "../testdata/site"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 8)
	nodes := map[string]*node.Node{}
	secret := []byte(t.Name() + " fleet secret")
	start := func(ref configs.NodeRef) *node.Node {
		n, err := node.New(top, ref, node.Options{DataDir: t.TempDir(), FleetSecret: secret})
		if err != nil {
			t.Fatal(err)
		}
		go func() { done <- n.Run(ctx) }()
		nodes[ref.Name] = n
		return n
	}
	t.Cleanup(func() {
		cancel()
		for range nodes {
			if err := <-done; err != nil {
				t.Errorf("node stopped with %v", err)
			}
		}
	})

	o := &top.Origins[0]
	o.Listen, o.Admin = testkit.FreePort(t, o.Listen), testkit.FreePort(t, o.Admin)
	on := start(configs.NodeRef{Name: o.Name, Role: configs.RoleOrigin, Origin: o})
	u, err := configs.ParseURL("http://" + on.Listen)
	if err != nil {
		t.Fatal(err)
	}
	top.Sites[0].Origin = u
	for _, role := range []configs.Role{configs.RoleShield, configs.RoleEdge} {
		for _, ref := range top.Nodes() {
			if ref.Role != role {
				continue
			}
			testkit.OnLoopback(t, top, ref.Name, "")
			n := start(ref)
			// Edges built after this find the shield at its real port.
			ref.Node.Listen, _ = configs.ParseAddr(n.Listen)
		}
	}
	return nodes
}

func fetch(t *testing.T, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = "www.cdn.test"
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// scrape reads the metrics a node's admin server exports.
func scrape(t *testing.T, admin string) prometheus.Gatherer {
	t.Helper()
	return testkit.Scrape(t, "http://"+admin+"/metrics")
}

// TestDemoTopology runs every demo node (origin, shield, three edges) on
// its loopback address and checks the path edge → shield → origin.
func TestDemoTopology(t *testing.T) {
	nodes := demoOnFreePorts(t)
	eu, us := nodes["eu-west-1"], nodes["us-east-1"]
	origin := nodes["origin"]
	appJS, err := os.ReadFile("../testdata/site/app.js")
	if err != nil {
		t.Fatal(err)
	}

	resp, body := fetch(t, "http://"+eu.Listen+"/app.js")
	if resp.StatusCode != 200 || body != string(appJS) {
		t.Fatalf("miss: %d, %d bytes", resp.StatusCode, len(body))
	}
	// The object's home shield is whichever rendezvous hashing picks.
	home, _, _ := strings.Cut(resp.Header.Get("Cache-Status"), ";")
	if got := resp.Header.Get("Cache-Status"); (home != "tern-shield-1" && home != "tern-shield-2") ||
		got != home+"; fwd=miss; stored, tern-eu-west-1; fwd=miss; stored" {
		t.Errorf("miss Cache-Status %q", got)
	}
	if resp.Header.Get("Surrogate-Key") != "" {
		t.Errorf("Surrogate-Key reached the client")
	}
	resp, _ = fetch(t, "http://"+eu.Listen+"/app.js")
	if !strings.HasPrefix(resp.Header.Get("Cache-Status"), "tern-eu-west-1; hit") || resp.Header.Get("Age") == "" {
		t.Errorf("second request: %q, Age %q", resp.Header.Get("Cache-Status"), resp.Header.Get("Age"))
	}
	// Another edge finds it on the shield.
	resp, _ = fetch(t, "http://"+us.Listen+"/app.js")
	if got := resp.Header.Get("Cache-Status"); !strings.HasPrefix(got, home+"; hit") {
		t.Errorf("us-east via shield: %q", got)
	}
	// The origin counts a request once it has written all of it.
	testkit.Eventually(t, 5*time.Second, "the origin to count the first request", func() bool {
		return testkit.Sum(t, scrape(t, origin.Admin), "tern_origin_requests_total", "code", "2xx") == 1
	})

	resp, body = fetch(t, "http://"+eu.Listen+"/video/demo.mp4", "Range", "bytes=0-99")
	if resp.StatusCode != 206 || len(body) != 100 || !strings.HasPrefix(resp.Header.Get("Content-Range"), "bytes 0-99/") {
		t.Errorf("range: %d, %d bytes, %q", resp.StatusCode, len(body), resp.Header.Get("Content-Range"))
	}

	// Unknown host: refused at the edge, nothing upstream.
	testkit.Eventually(t, 5*time.Second, "the origin to count the second request", func() bool {
		return testkit.Sum(t, scrape(t, origin.Admin), "tern_origin_requests_total", "code", "2xx") == 2
	})
	before := testkit.Sum(t, scrape(t, origin.Admin), "tern_origin_requests_total", "code", "2xx")
	resp, _ = fetch(t, "http://"+eu.Listen+"/", "Host", "evil.example")
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("unknown host: %d", resp.StatusCode)
	}
	if after := testkit.Sum(t, scrape(t, origin.Admin), "tern_origin_requests_total", "code", "2xx"); after != before {
		t.Errorf("unknown host reached the origin: 2xx responses %v -> %v", before, after)
	}
	// The shield counts the video once the edge has read all of it.
	testkit.Eventually(t, 5*time.Second, "the shields to count the video miss", func() bool {
		var misses float64
		for _, name := range []string{"shield-1", "shield-2"} {
			misses += testkit.Sum(t, scrape(t, nodes[name].Admin), "tern_edge_requests_total", "cache", "miss", "code", "2xx")
		}
		return misses == 2
	})

	// HTTPS at the edge, with a certificate from the node's local CA.
	pem, err := os.ReadFile(eu.CARoot)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "www.cdn.test"}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", "https://"+eu.TLSListen+"/app.js", nil)
	req.Host = "www.cdn.test"
	resp, err = (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("https: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, port, _ := net.SplitHostPort(eu.TLSListen)
	if resp.StatusCode != 200 || string(b) != string(appJS) || resp.ProtoMajor != 2 || resp.Header.Get("Alt-Svc") != `h3=":`+port+`"; ma=2592000` {
		t.Errorf("https: %d HTTP/%d %d bytes, Alt-Svc %q", resp.StatusCode, resp.ProtoMajor, len(b), resp.Header.Get("Alt-Svc"))
	}

	for _, n := range nodes {
		for _, p := range []string{"/healthz", "/readyz"} {
			if resp, _ := fetch(t, "http://"+n.Admin+p, "Host", n.Admin); resp.StatusCode != 200 {
				t.Errorf("%s %s: %d", n.Name, p, resp.StatusCode)
			}
		}
	}
}

// TestNodeShutdownWaitsForRequests checks the graceful stop: a request in
// progress completes; new connections are refused.
func TestNodeShutdownWaitsForRequests(t *testing.T) {
	top, err := configs.Demo()
	if err != nil {
		t.Fatal(err)
	}
	top.Purge = configs.Purge{} // no purge bus: these nodes run without one
	release := make(chan struct{})
	slow := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Write([]byte("late"))
	})
	top.Sites[0].Origin, _ = configs.ParseURL(slow.origin.URL)
	ref := testkit.OnLoopback(t, top, "shield-1", "127.0.0.1")
	n, err := node.New(top, ref, node.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- n.Run(ctx) }()

	got := make(chan string, 1)
	go func() {
		_, body := fetch(t, "http://"+n.Listen+"/slow")
		got <- body
	}()
	testkit.Eventually(t, 5*time.Second, "slow.hits() == 1", func() bool { return slow.hits() == 1 })
	cancel()
	time.Sleep(50 * time.Millisecond) // let Shutdown close the listener
	close(release)
	if b := <-got; b != "late" {
		t.Errorf("in-flight request got %q", b)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Run: %v", err)
	}
	if _, err := http.Get("http://" + n.Listen + "/"); err == nil {
		t.Errorf("stopped node still accepts connections")
	}
}

// TestSiteMinTLSVersion: a site that asks for TLS 1.3 refuses a 1.2
// handshake; the edge still speaks HTTP/2 to it over 1.3.
func TestSiteMinTLSVersion(t *testing.T) {
	top, err := configs.Demo()
	if err != nil {
		t.Fatal(err)
	}
	top.Purge = configs.Purge{} // no purge bus: these nodes run without one
	top.Sites[0].HTTPS.MinVersion = "1.3"
	n, roots := startTLSNode(t, top, testkit.OnLoopback(t, top, "eu-west-1", "127.0.1.1"))
	if c, err := tls.Dial("tcp", n.TLSListen, &tls.Config{RootCAs: roots, ServerName: "www.cdn.test", MaxVersion: tls.VersionTLS12}); err == nil {
		c.Close()
		t.Fatal("a TLS 1.2 handshake was accepted for a 1.3-only site")
	}
	c, err := tls.Dial("tcp", n.TLSListen, &tls.Config{RootCAs: roots, ServerName: "www.cdn.test", NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st := c.ConnectionState(); st.Version != tls.VersionTLS13 || st.NegotiatedProtocol != "h2" {
		t.Errorf("version %x, protocol %q", st.Version, st.NegotiatedProtocol)
	}
}

// TestNodeUnknownSNIRefused: a node's certificates (files, ACME, local CA)
// refuse a name no site has, and no name, with unrecognized_name over TCP
// and QUIC.
func TestNodeUnknownSNIRefused(t *testing.T) {
	top, err := configs.Demo()
	if err != nil {
		t.Fatal(err)
	}
	top.Purge = configs.Purge{} // no purge bus: these nodes run without one
	n, roots := startTLSNode(t, top, testkit.OnLoopback(t, top, "eu-west-1", "127.0.1.1"))
	for _, name := range []string{"evil.example", ""} {
		expectUnrecognizedName(t, n.TLSListen, roots, name)
	}
	c, err := tls.Dial("tcp", n.TLSListen, &tls.Config{RootCAs: roots, ServerName: "www.cdn.test"})
	if err != nil {
		t.Fatalf("a configured name: %v", err)
	}
	c.Close()
	if got := testkit.Sum(t, scrape(t, n.Admin), "tern_edge_tls_handshakes_total", "protocol", "quic", "result", "unknown-name"); got != 2 {
		t.Errorf("QUIC unknown-name handshakes: %v, want 2", got)
	}
}
