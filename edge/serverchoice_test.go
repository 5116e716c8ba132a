package edge_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/edge/h1/h1test"
)

// The edge tests serve with net/http unless TERN_TEST_H1=tern, which runs
// them against edge/h1 instead:
//
//	TERN_TEST_H1=tern go test ./edge/
//
// Nodes started through cmd/tern/node keep their configured server.

// listenEdge is edge.Listen with the tests' choice of HTTP/1.1 server.
func listenEdge(tb testing.TB, h http.Handler) *edge.Server {
	tb.Helper()
	srv, err := edge.ListenWith("127.0.0.1:0", h, nil, edge.ServerOptions{HTTP1: os.Getenv("TERN_TEST_H1")})
	if err != nil {
		tb.Fatal(err)
	}
	return srv
}

// newEdgeServer is httptest.NewServer(h), or h1test.NewServer(h) when the
// tests ask for edge/h1.
func newEdgeServer(tb testing.TB, h http.Handler) *httptest.Server {
	tb.Helper()
	if os.Getenv("TERN_TEST_H1") == "tern" {
		return h1test.NewServer(h)
	}
	return httptest.NewServer(h)
}

// TestListenWith serves the edge with each HTTP/1.1 server and refuses an
// unknown one; Serve returns nil after Shutdown.
func TestListenWith(t *testing.T) {
	hs := newHarness(t, fixed("hello", "Cache-Control", "max-age=60"))
	for _, server := range []string{"", "net", "tern"} {
		srv, err := edge.ListenWith("127.0.0.1:0", hs.h, nil, edge.ServerOptions{HTTP1: server})
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve() }()
		req, _ := http.NewRequest("GET", "http://"+srv.Addr().String()+"/x", nil)
		req.Host = "www.cdn.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%q: %v", server, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "hello" {
			t.Errorf("%q: %d %q", server, resp.StatusCode, body)
		}
		http.DefaultClient.CloseIdleConnections()
		if err := srv.Shutdown(t.Context()); err != nil {
			t.Errorf("%q: Shutdown: %v", server, err)
		}
		if err := <-served; err != nil {
			t.Errorf("%q: Serve: %v", server, err)
		}
	}
	if _, err := edge.ListenWith("127.0.0.1:0", hs.h, nil, edge.ServerOptions{HTTP1: "nginx"}); err == nil {
		t.Error("an unknown HTTP/1.1 server was accepted")
	}
}
