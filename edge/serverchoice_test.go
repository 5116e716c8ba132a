package edge_test

import (
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
