package edge_test

import (
	"github.com/tern-cdn/tern/internal/testkit"
	"testing"

	"github.com/tern-cdn/tern/edge"
)

// BenchmarkHitRaw serves a warmed hit with net/http and with edge/h1 to a
// raw keep-alive client that allocates nothing per request (one request
// at a time on one connection), so allocs/op are the server's and the
// handler's. cpu-ns/op is the process's CPU time per request, the
// client's included. Run with
//
//	go test -run '^$' -bench HitRaw -benchmem -count 3 ./edge/
func BenchmarkHitRaw(b *testing.B) {
	for _, sz := range hitSizes {
		for _, server := range []string{"net", "tern"} {
			b.Run(sz.name+"/"+server, func(b *testing.B) {
				be := newBenchEdge(b, sz.size, false)
				be.warm(b)
				srv, err := edge.ListenWith("127.0.0.1:0", be.h, nil, edge.ServerOptions{HTTP1: server})
				if err != nil {
					b.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- srv.Serve() }()
				b.Cleanup(func() {
					srv.Shutdown(b.Context())
					<-done
				})
				testkit.RawHits(b, srv.Addr().String(), sz.size, "; hit")
			})
		}
	}
}
