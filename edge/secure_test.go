package edge_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/edge/tlscert"
)

// startSecure serves the harness's edge handler over TLS (h1, h2) and
// HTTP/3 with certificates from a local CA, and returns its address and
// the CA's pool.
func startSecure(t *testing.T, hs *harness) (string, *x509.CertPool) {
	t.Helper()
	ca, err := tlscert.OpenLocalCA(t.TempDir(), []string{"www.cdn.test"})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := edge.ListenSecure("127.0.0.1:0", hs.h, &tls.Config{GetCertificate: ca.GetCertificate, MinVersion: tls.VersionTLS12}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	pool := x509.NewCertPool()
	pool.AddCert(ca.Root())
	return srv.Addr().String(), pool
}

// clients returns an HTTP/1.1, an HTTP/2 and an HTTP/3 client that reach
// www.cdn.test at addr.
func clients(t *testing.T, addr string, roots *x509.CertPool) map[string]*http.Client {
	t.Helper()
	tlsConf := &tls.Config{RootCAs: roots, ServerName: "www.cdn.test"}
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	h1 := &http.Transport{TLSClientConfig: tlsConf.Clone(), DialContext: dial, DisableCompression: true, Protocols: new(http.Protocols)}
	h1.Protocols.SetHTTP1(true)
	h2 := &http.Transport{TLSClientConfig: tlsConf.Clone(), DialContext: dial, DisableCompression: true, Protocols: new(http.Protocols)}
	h2.Protocols.SetHTTP2(true)
	// Every name resolves to addr: no DNS query leaves the machine.
	h3 := &http3.Transport{TLSClientConfig: tlsConf.Clone(),
		Dial: func(ctx context.Context, _ string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
			return quic.DialAddrEarly(ctx, addr, tc, qc)
		}}
	t.Cleanup(func() { h1.CloseIdleConnections(); h2.CloseIdleConnections(); h3.Close() })
	return map[string]*http.Client{"h1": {Transport: h1}, "h2": {Transport: h2}, "h3": {Transport: h3}}
}

// TestThreeTransportsSameAnswers sends the same requests over HTTP/1.1,
// HTTP/2 and HTTP/3: the same bodies, statuses and cache behaviour.
func TestThreeTransportsSameAnswers(t *testing.T) {
	hs := newHarness(t, fixed(digits, "Cache-Control", "max-age=60", "ETag", `"d"`))
	addr, roots := startSecure(t, hs)
	_, port, _ := net.SplitHostPort(addr)
	tests := []struct {
		path, rangeHdr, inm string
		code                int
		body                string
	}{
		{"/d", "", "", 200, digits},
		{"/d", "bytes=0-3", "", 206, "0123"},
		{"/d", "", `"d"`, 304, ""},
	}
	for proto, c := range clients(t, addr, roots) {
		for _, tt := range tests {
			req, _ := http.NewRequest("GET", "https://www.cdn.test:"+port+tt.path, nil)
			if tt.rangeHdr != "" {
				req.Header.Set("Range", tt.rangeHdr)
			}
			if tt.inm != "" {
				req.Header.Set("If-None-Match", tt.inm)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", proto, tt.path, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.code || string(b) != tt.body {
				t.Errorf("%s %+v: %d %q", proto, tt, resp.StatusCode, b)
			}
			if want := map[string]int{"h1": 1, "h2": 2, "h3": 3}[proto]; resp.ProtoMajor != want {
				t.Errorf("%s: spoke HTTP/%d", proto, resp.ProtoMajor)
			}
			alt := resp.Header.Get("Alt-Svc")
			if proto != "h3" && alt != `h3=":`+port+`"; ma=2592000` {
				t.Errorf("%s: Alt-Svc %q", proto, alt)
			}
			if tt.code == 200 && hs.hits() == 1 && !strings.Contains(resp.Header.Get("Cache-Status"), "tern-test-edge") {
				t.Errorf("%s: Cache-Status %q", proto, resp.Header.Get("Cache-Status"))
			}
		}
	}
	// One origin request in all: https shares one cache entry across the
	// three protocols.
	hs.expectHits(1)
	for v := 1; v <= 3; v++ {
		if got := hs.metric("tern_edge_requests_by_protocol_total", "version", strconv.Itoa(v)); got != float64(len(tests)) {
			t.Errorf("HTTP/%d requests counted %v, want %d", v, got, len(tests))
		}
	}
}

// TestUnknownSNIRefused: a name the edge does not serve, or no name, fails
// the handshake with the alert unrecognized_name (RFC 6066 §3), over TCP
// and over QUIC, not internal_error.
func TestUnknownSNIRefused(t *testing.T) {
	hs := newHarness(t, fixed("x"))
	addr, roots := startSecure(t, hs)
	for _, name := range []string{"evil.example", ""} {
		expectUnrecognizedName(t, addr, roots, name)
	}
	hs.expectHits(0)
}

// expectUnrecognizedName checks that a handshake for SNI name at addr
// fails with the alert unrecognized_name (112), over TCP and over QUIC,
// where it is the transport error CRYPTO_ERROR 0x100+112.
func expectUnrecognizedName(t *testing.T, addr string, roots *x509.CertPool, name string) {
	t.Helper()
	conf := &tls.Config{RootCAs: roots, ServerName: name, InsecureSkipVerify: name == ""}
	conn, err := tls.Dial("tcp", addr, conf)
	if err == nil {
		conn.Close()
		t.Errorf("tcp: handshake for SNI %q succeeded", name)
	} else if got := err.Error(); got != "remote error: tls: unrecognized name" {
		t.Errorf("tcp: handshake for SNI %q: %q, want the alert unrecognized name", name, got)
	}
	qconf := conf.Clone()
	qconf.NextProtos = []string{http3.NextProtoH3}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	qc, err := quic.DialAddr(ctx, addr, qconf, nil)
	if err == nil {
		qc.CloseWithError(0, "")
		t.Errorf("quic: handshake for SNI %q succeeded", name)
		return
	}
	var te *quic.TransportError
	if !errors.As(err, &te) || !te.Remote || te.ErrorCode != 0x100+112 {
		t.Errorf("quic: handshake for SNI %q: %v, want the remote CRYPTO_ERROR 0x170 (unrecognized name)", name, err)
	}
}

func TestLocalCASharedByNodes(t *testing.T) {
	dir := t.TempDir()
	a, err := tlscert.OpenLocalCA(dir, []string{"www.cdn.test"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := tlscert.OpenLocalCA(dir, []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Root().SerialNumber.Cmp(b.Root().SerialNumber) != 0 || a.RootPath() != b.RootPath() {
		t.Fatal("two opens of one folder made two CAs")
	}
}

func TestHTTPSRedirectAndHSTS(t *testing.T) {
	hs := newHarness(t, fixed("x", "Cache-Control", "max-age=60"), func(c *edge.Config) {
		c.Sites[0].RedirectHTTPS = true
		c.Sites[0].HSTS = 24 * time.Hour
		c.HTTPSPort = 8443
	})
	r := hs.do(http.MethodPost, "/a/b?q=1")
	if r.code != http.StatusPermanentRedirect || r.header.Get("Location") != "https://www.cdn.test:8443/a/b?q=1" {
		t.Fatalf("plain HTTP: %d %q", r.code, r.header.Get("Location"))
	}
	hs.expectHits(0)
	addr, roots := startSecure(t, hs)
	c := clients(t, addr, roots)["h2"]
	resp, err := c.Get("https://www.cdn.test/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") != "max-age=86400" {
		t.Fatalf("https: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
}

// TestQUICGarbage sends garbage datagrams and a truncated QUIC Initial to
// the HTTP/3 port: the edge stays up and keeps serving HTTP/3.
func TestQUICGarbage(t *testing.T) {
	hs := newHarness(t, fixed("still here", "Cache-Control", "max-age=60"))
	addr, roots := startSecure(t, hs)
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	payloads := [][]byte{
		{},
		{0x00},
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		append([]byte{0xc0, 0x00, 0x00, 0x00, 0x01, 0x08}, make([]byte, 20)...), // long header, cut short
		append([]byte{0xc3, 0x00, 0x00, 0x00, 0x01}, make([]byte, 1195)...),     // Initial-sized zeros
	}
	for i := 0; i < 200; i++ {
		b := make([]byte, 1+i*7%1300)
		rand.Read(b)
		payloads = append(payloads, b)
	}
	for _, p := range payloads {
		conn.Write(p)
	}
	c := clients(t, addr, roots)["h3"]
	resp, err := c.Get("https://www.cdn.test/x")
	if err != nil {
		t.Fatalf("HTTP/3 after garbage: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "still here" {
		t.Fatalf("HTTP/3 after garbage: %d %q", resp.StatusCode, b)
	}
}

// TestHTTP3With0RTTAccepted: with 0-RTT accepted, requests after the
// handshake (not early data) are served as usual, unsafe methods included.
func TestHTTP3With0RTTAccepted(t *testing.T) {
	hs := newHarness(t, fixed("ok", "Cache-Control", "max-age=60"))
	ca, err := tlscert.OpenLocalCA(t.TempDir(), []string{"www.cdn.test"})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := edge.ListenSecure0RTT("127.0.0.1:0", hs.h, &tls.Config{GetCertificate: ca.GetCertificate}, nil)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer srv.Shutdown(context.Background())
	roots := x509.NewCertPool()
	roots.AddCert(ca.Root())
	c := clients(t, srv.Addr().String(), roots)["h3"]
	for _, m := range []string{"GET", "POST"} {
		req, _ := http.NewRequest(m, "https://www.cdn.test/x", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.ProtoMajor != 3 {
			t.Errorf("%s: %d over HTTP/%d", m, resp.StatusCode, resp.ProtoMajor)
		}
	}
}
