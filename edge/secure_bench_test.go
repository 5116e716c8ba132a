package edge_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/edge/store"
	"github.com/tern-cdn/tern/edge/tlscert"
)

// BenchmarkSecureHit serves hits of 1 KiB and 1 MiB over TLS HTTP/1.1,
// HTTP/2 and HTTP/3 from one edge, with a Go client on loopback.
func BenchmarkSecureHit(b *testing.B) {
	for _, size := range []int{1 << 10, 1 << 20} {
		body := strings.Repeat("x", size)
		origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=3600")
			w.Header().Set("Content-Length", strconv.Itoa(size))
			io.WriteString(w, body)
		}))
		mem, _ := store.NewMemory(64 << 20)
		u, _ := url.Parse(origin.URL)
		h, err := edge.NewHandler(edge.Config{Node: "bench", Sites: []edge.Site{{Name: "b", Hosts: []string{"www.cdn.test"}, Origin: u}},
			Upstream: http.DefaultTransport, ClientFacing: true, Store: mem})
		if err != nil {
			b.Fatal(err)
		}
		ca, err := tlscert.OpenLocalCA(b.TempDir(), []string{"www.cdn.test"})
		if err != nil {
			b.Fatal(err)
		}
		srv, err := edge.ListenSecure("127.0.0.1:0", h, &tls.Config{GetCertificate: ca.GetCertificate}, nil)
		if err != nil {
			b.Fatal(err)
		}
		go srv.Serve()
		addr := srv.Addr().String()
		roots := x509.NewCertPool()
		roots.AddCert(ca.Root())
		tc := &tls.Config{RootCAs: roots, ServerName: "www.cdn.test"}
		dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
		h1 := &http.Transport{TLSClientConfig: tc.Clone(), DialContext: dial, Protocols: new(http.Protocols), MaxIdleConnsPerHost: 16}
		h1.Protocols.SetHTTP1(true)
		h2 := &http.Transport{TLSClientConfig: tc.Clone(), DialContext: dial, Protocols: new(http.Protocols)}
		h2.Protocols.SetHTTP2(true)
		h3 := &http3.Transport{TLSClientConfig: tc.Clone(), Dial: func(ctx context.Context, _ string, t *tls.Config, q *quic.Config) (*quic.Conn, error) {
			return quic.DialAddrEarly(ctx, addr, t, q)
		}}
		for _, c := range []struct {
			name string
			rt   http.RoundTripper
		}{{"h1", h1}, {"h2", h2}, {"h3", h3}} {
			b.Run(c.name+"/"+strconv.Itoa(size>>10)+"KiB", func(b *testing.B) {
				client := &http.Client{Transport: c.rt}
				get := func() int64 {
					resp, err := client.Get("https://www.cdn.test/obj")
					if err != nil {
						b.Fatal(err)
					}
					n, _ := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					return n
				}
				get()
				b.SetBytes(int64(size))
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if n := get(); n != int64(size) {
							b.Errorf("short body %d", n)
							return
						}
					}
				})
			})
		}
		h1.CloseIdleConnections()
		h2.CloseIdleConnections()
		h3.Close()
		srv.Shutdown(context.Background())
		h.Close()
		mem.Close()
		origin.Close()
	}
}

// BenchmarkHandshake measures full TLS 1.3 handshakes (no resumption)
// over TCP and QUIC against one edge: one new connection per op.
func BenchmarkHandshake(b *testing.B) {
	ca, err := tlscert.OpenLocalCA(b.TempDir(), []string{"www.cdn.test"})
	if err != nil {
		b.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	srv, err := edge.ListenSecure("127.0.0.1:0", h, &tls.Config{GetCertificate: ca.GetCertificate}, nil)
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve()
	defer srv.Shutdown(context.Background())
	addr := srv.Addr().String()
	roots := x509.NewCertPool()
	roots.AddCert(ca.Root())
	b.Run("tcp-tls13", func(b *testing.B) {
		conf := &tls.Config{RootCAs: roots, ServerName: "www.cdn.test", MinVersion: tls.VersionTLS13, ClientSessionCache: nil}
		for b.Loop() {
			c, err := tls.Dial("tcp", addr, conf)
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
	b.Run("quic", func(b *testing.B) {
		conf := &tls.Config{RootCAs: roots, ServerName: "www.cdn.test", NextProtos: []string{http3.NextProtoH3}}
		for b.Loop() {
			c, err := quic.DialAddr(context.Background(), addr, conf, nil)
			if err != nil {
				b.Fatal(err)
			}
			c.CloseWithError(0, "")
		}
	})
}
