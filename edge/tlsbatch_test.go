package edge

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/tern-cdn/tern/edge/tlscert"
	"github.com/tern-cdn/tern/internal/testkit"
)

// wireConn records the size of every write that reaches the socket.
type wireConn struct {
	net.Conn
	mu     sync.Mutex
	writes []int
}

func (c *wireConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, len(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

type wireListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*wireConn
}

func (l *wireListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	wc := &wireConn{Conn: c}
	l.mu.Lock()
	l.conns = append(l.conns, wc)
	l.mu.Unlock()
	return wc, nil
}

// writes returns the sizes of the writes every connection made so far.
func (l *wireListener) writes() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var all []int
	for _, c := range l.conns {
		c.mu.Lock()
		all = append(all, c.writes...)
		c.mu.Unlock()
	}
	return all
}

// h2Batched serves h over TLS with serveH2Batched on loopback, below it
// the wireListener, and returns an HTTP/2 client for it whose DATA frames
// may be up to maxFrame bytes.
func h2Batched(t *testing.T, h http.Handler, maxFrame uint32) (*wireListener, *http.Client) {
	t.Helper()
	ca, err := tlscert.OpenLocalCA(t.TempDir(), []string{"www.cdn.test"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wl := &wireListener{Listener: ln}
	srv := &http.Server{Handler: h, TLSConfig: &tls.Config{GetCertificate: ca.GetCertificate, NextProtos: []string{"h2"}}}
	if err := serveH2Batched(srv); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.ServeTLS(batchListener{wl}, "", ""); close(done) }()
	roots := x509.NewCertPool()
	roots.AddCert(ca.Root())
	tr := &http2.Transport{
		TLSClientConfig:  &tls.Config{RootCAs: roots, ServerName: "www.cdn.test"},
		MaxReadFrameSize: maxFrame,
		DialTLSContext: func(ctx context.Context, network, _ string, cfg *tls.Config) (net.Conn, error) {
			return (&tls.Dialer{Config: cfg}).DialContext(ctx, network, ln.Addr().String())
		},
	}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Shutdown(context.Background())
		<-done
	})
	return wl, &http.Client{Transport: tr}
}

func getExact(t *testing.T, c *http.Client, want []byte) {
	t.Helper()
	resp, err := c.Get("https://www.cdn.test/obj")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || resp.ProtoMajor != 2 || !bytes.Equal(got, want) {
		t.Fatalf("HTTP/%d, %d bytes (exact %v), %v", resp.ProtoMajor, len(got), bytes.Equal(got, want), err)
	}
}

// TestH2RecordsLeaveInBatches: a 1 MiB response over HTTP/2 is 64 DATA
// frames of 16,393 bytes, two TLS records each; each frame's records
// leave in one write, so the socket sees about one write per frame, not
// two.
func TestH2RecordsLeaveInBatches(t *testing.T) {
	body := make([]byte, 1<<20)
	rand.Read(body)
	wl, c := h2Batched(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }), 0)
	getExact(t, c, body) // the connection and its first records (small, while TLS ramps up)
	before := len(wl.writes())
	for range 3 {
		getExact(t, c, body)
	}
	writes := wl.writes()[before:]
	var bytes int
	for _, n := range writes {
		bytes += n
	}
	if perResponse := len(writes) / 3; perResponse > 64+8 || bytes < 3<<20 {
		t.Fatalf("%d writes of %d bytes for three 1 MiB responses (%d each); unbatched it takes about 130 each", len(writes), bytes, perResponse)
	}
}

// TestH2BatchBounded: a client asking for DATA frames of 1 MiB gets them,
// exact, and no write gathers more than maxBatch bytes.
func TestH2BatchBounded(t *testing.T) {
	body := make([]byte, 4<<20)
	rand.Read(body)
	wl, c := h2Batched(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }), 1<<20)
	getExact(t, c, body)
	for _, n := range wl.writes() {
		if n > maxBatch {
			t.Fatalf("a write of %d bytes, more than maxBatch (%d)", n, maxBatch)
		}
	}
}

// TestH2ShutdownFinishesStreams: the secure server's Shutdown lets an
// HTTP/2 response in progress finish whole (GOAWAY, then the stream's
// end), with x/net/http2 serving h2 through batchedTLS.
func TestH2ShutdownFinishesStreams(t *testing.T) {
	body := make([]byte, 1<<20)
	rand.Read(body)
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		w.Write(body)
	})
	ca, err := tlscert.OpenLocalCA(t.TempDir(), []string{"www.cdn.test"})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ListenSecure("127.0.0.1:0", h, &tls.Config{GetCertificate: ca.GetCertificate}, nil)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	roots := x509.NewCertPool()
	roots.AddCert(ca.Root())
	tr := &http2.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "www.cdn.test"},
		DialTLSContext: func(ctx context.Context, network, _ string, cfg *tls.Config) (net.Conn, error) {
			return (&tls.Dialer{Config: cfg}).DialContext(ctx, network, srv.Addr().String())
		},
	}
	defer tr.CloseIdleConnections()
	got := make(chan error, 1)
	go func() {
		resp, err := (&http.Client{Transport: tr}).Get("https://www.cdn.test/slow")
		if err != nil {
			got <- err
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && (resp.ProtoMajor != 2 || !bytes.Equal(b, body)) {
			err = fmt.Errorf("HTTP/%d, %d bytes, exact %v", resp.ProtoMajor, len(b), bytes.Equal(b, body))
		}
		got <- err
	}()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Shutdown(context.Background()) }()
	// Shutdown has begun once the listener refuses connections.
	testkit.Eventually(t, 5*time.Second, "the listener to close", func() bool {
		c, err := net.Dial("tcp", srv.Addr().String())
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	close(release)
	if err := <-got; err != nil {
		t.Fatalf("the response in progress at Shutdown: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
