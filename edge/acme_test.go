package edge_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"

	"github.com/tern-cdn/tern/cmd/tern/node"
	"github.com/tern-cdn/tern/configs"
	"github.com/tern-cdn/tern/internal/testkit"
)

// startLoopbackDNS answers every A question with 127.0.0.1, so an ACME
// validator looking up a site host reaches the edge on loopback.
func startLoopbackDNS(t *testing.T) string {
	t.Helper()
	pc, ln := listenUDPAndTCP(t)
	mux := dns.NewServeMux()
	mux.HandleFunc(".", func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		for _, q := range r.Question {
			if q.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A: net.ParseIP("127.0.0.1")})
			}
		}
		w.WriteMsg(m)
	})
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: mux}, {Listener: ln, Handler: mux}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return pc.LocalAddr().String()
}

// listenUDPAndTCP binds UDP and TCP on one loopback port, as a resolver
// that may fall back to TCP needs. The kernel picks the UDP port; the TCP
// port of that number may be taken by anyone (another test's listener or
// an outgoing connection), so a failed TCP bind starts over with a new
// pair instead of failing the test. Both sockets stay bound: nothing is
// reserved and bound later.
func listenUDPAndTCP(t *testing.T) (net.PacketConn, net.Listener) {
	t.Helper()
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
		lastErr = err
	}
	t.Fatalf("no loopback port free for both UDP and TCP in 20 tries: %v", lastErr)
	return nil, nil
}

// pebble is an ACME CA in process.
type pebble struct {
	directory string
	trusted   string         // PEM file of its HTTPS certificate
	roots     *x509.CertPool // the roots of the certificates it issues
	orders    atomic.Int64
	close     func()
}

// startPebble starts Pebble's HTTPS front; its validator is attached by
// validate once the edge's ports are known, so no port is ever guessed.
func startPebble(t *testing.T, validity uint64) (p *pebble, validate func(httpPort, tlsPort int, resolver string)) {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	logger := log.New(io.Discard, "", 0)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {ValidityPeriod: validity}})
	p = &pebble{}
	var h atomic.Pointer[http.Handler]
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hp := h.Load()
		if hp == nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == "/order-plz" {
			p.orders.Add(1)
		}
		(*hp).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.close = srv.Close
	p.directory = srv.URL + wfe.DirectoryPath
	p.trusted = filepath.Join(t.TempDir(), "pebble-https.pem")
	os.WriteFile(p.trusted, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	p.roots = x509.NewCertPool()
	p.roots.AppendCertsFromPEM(authority.GetRootCert(0).PEM())
	return p, func(httpPort, tlsPort int, resolver string) {
		validator := va.New(logger, httpPort, tlsPort, false, resolver, store)
		front := wfe.New(logger, store, validator, authority, []string{"pebble"}, false, false, 0, 0)
		fh := front.Handler()
		h.Store(&fh)
	}
}

// acmeNode builds (without running) an edge on loopback ports the kernel
// picks, whose certificates come from a new Pebble validating against
// those ports; extra lines go under tls.acme.
func acmeNode(t *testing.T, originURL, extra string, validity uint64, dataDir string) (*pebble, *configs.Topology, *node.Node, int, int) {
	t.Helper()
	p, validate := startPebble(t, validity)
	tp := testkit.OneEdge(originURL)
	tp.Datacenters[0].Edges[0].TLS = true
	tp.Extra = fmt.Sprintf("tls:\n  mode: acme\n  acme:\n    directory: %s\n    trusted_roots: %s\n    %s\n", p.directory, p.trusted, extra)
	top := tp.Parse(t)
	ref, _ := top.Lookup("edge-1")
	n, err := node.New(top, ref, node.Options{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	port := func(addr string) int {
		_, ps, _ := net.SplitHostPort(addr)
		v, _ := strconv.Atoi(ps)
		return v
	}
	httpPort, tlsPort := port(n.Listen), port(n.TLSListen)
	validate(httpPort, tlsPort, startLoopbackDNS(t))
	// A restart of this node must bind the same ports.
	ref.Node.Listen, _ = configs.ParseAddr(n.Listen)
	ref.Node.TLSListen, _ = configs.ParseAddr(n.TLSListen)
	return p, top, n, httpPort, tlsPort
}

// TestACMEWithPebble obtains the site's certificate from a real ACME CA
// (Pebble, in process) that validates against the edge's own listeners:
// with each challenge type and on demand at the first handshake. An
// unconfigured SNI gets no
// certificate and places no order.
func TestACMEWithPebble(t *testing.T) {
	tests := []struct {
		name, extra string
		validity    uint64
		onDemand    bool
	}{
		{name: "http-01", extra: "challenges: [http-01]", validity: 3600},
		{name: "tls-alpn-01", extra: "challenges: [tls-alpn-01]", validity: 3600},
		{name: "on-demand", extra: "on_demand: true", validity: 3600, onDemand: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				io.WriteString(w, "over acme")
			}))
			defer origin.Close()
			p, _, n, _, tlsPort := acmeNode(t, origin.URL, tt.extra, tt.validity, t.TempDir())
			defer testkit.Run(t, 10*time.Second, n.Run)()
			if tt.onDemand {
				time.Sleep(300 * time.Millisecond)
				if got := p.orders.Load(); got != 0 {
					t.Fatalf("on demand: %d orders before any handshake", got)
				}
			}

			client := &http.Client{Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: p.roots, ServerName: "www.cdn.test"},
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+strconv.Itoa(tlsPort))
				},
			}}
			var lastErr error
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				resp, err := client.Get("https://www.cdn.test/x")
				if lastErr = err; err != nil {
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(b) != "over acme" {
					t.Fatalf("over the ACME certificate: %d %q", resp.StatusCode, b)
				}
				break
			}
			if lastErr != nil {
				t.Fatalf("no certificate from the ACME CA within 30s: %v", lastErr)
			}
			if p.orders.Load() != 1 {
				t.Errorf("orders placed: %d, want 1", p.orders.Load())
			}
			if testkit.Count(t, scrape(t, n.Admin), "tern_edge_acme_events_total", "event", "cert_obtained") == 0 {
				t.Error("no cert_obtained event counted")
			}
			if testkit.Count(t, scrape(t, n.Admin), "tern_edge_tls_handshakes_total", "protocol", "tcp", "result", "acme") == 0 {
				t.Error("no ACME handshake counted")
			}
			if v := testkit.Sum(t, scrape(t, n.Admin), "tern_edge_tls_certificate_expiry_timestamp_seconds", "site", "test"); v == 0 {
				t.Errorf("certificate expiry gauge: %v", v)
			}
			// An unconfigured name: the handshake fails, no order is placed.
			before := p.orders.Load()
			expectUnrecognizedName(t, "127.0.0.1:"+strconv.Itoa(tlsPort), p.roots, "evil.example")
			time.Sleep(100 * time.Millisecond)
			if got := p.orders.Load(); got != before {
				t.Errorf("orders after an unknown SNI: %d, want %d", got, before)
			}
		})
	}
}

// TestACMEServesStoredCertificateWhenCAIsDown: a node restarted while its
// ACME CA is unreachable serves the certificate it stored before, and its
// plain listener is not held up.
func TestACMEServesStoredCertificateWhenCAIsDown(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "still served")
	}))
	defer origin.Close()
	data := t.TempDir()
	p, top, first, httpPort, tlsPort := acmeNode(t, origin.URL, "", 3600, data)
	runNode := func(n *node.Node) (stop func()) { return testkit.Run(t, 10*time.Second, n.Run) }
	run := func() (stop func()) {
		ref, _ := top.Lookup("edge-1")
		n, err := node.New(top, ref, node.Options{DataDir: data})
		if err != nil {
			t.Fatal(err)
		}
		return runNode(n)
	}
	handshake := func() error {
		c, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(tlsPort), &tls.Config{RootCAs: p.roots, ServerName: "www.cdn.test"})
		if err == nil {
			c.Close()
		}
		return err
	}
	stop := runNode(first)
	var err2 error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err2 = handshake(); err2 == nil {
			break
		}
	}
	stop()
	if err2 != nil {
		t.Fatalf("no certificate in the first run: %v", err2)
	}
	// The CA goes away; the node starts again on the same data directory.
	p.close()
	stop = run()
	defer stop()
	// The stored certificate loads in the background: allow it a moment.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err2 = handshake(); err2 == nil {
			break
		}
	}
	if err2 != nil {
		t.Fatalf("stored certificate not served with the CA down: %v", err2)
	}
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(httpPort) + "/")
	if err != nil {
		t.Fatalf("plain listener with the CA down: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("plain listener answered %d to an unknown host", resp.StatusCode)
	}
}
