package edge_test

import (
	"bufio"
	"bytes"
	"github.com/tern-cdn/tern/internal/testkit"
	"net"
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
				rawHits(b, srv.Addr().String(), sz.size)
			})
		}
	}
}

// rawHits sends b.N GETs for /obj and reads each response: the head up to
// its empty line (checking it is a hit), then Content-Length bytes.
func rawHits(b *testing.B, addr string, size int) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /obj HTTP/1.1\r\nHost: www.cdn.test\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	br := bufio.NewReaderSize(c, 16<<10)
	read := func() {
		n, hit := -1, false
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if len(line) == 2 {
				break
			}
			if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
				n = 0
				for _, d := range v[:len(v)-2] {
					n = n*10 + int(d-'0')
				}
			}
			if bytes.HasPrefix(line, []byte("Cache-Status: ")) && bytes.Contains(line, []byte("; hit")) {
				hit = true
			}
		}
		if n != size || !hit {
			b.Fatalf("Content-Length %d (want %d), hit %v", n, size, hit)
		}
		if _, err := br.Discard(n); err != nil {
			b.Fatal(err)
		}
	}
	c.Write(req)
	read()
	cpu0 := testkit.ProcessCPU(b)
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		read()
	}
	b.StopTimer()
	b.ReportMetric(float64(testkit.ProcessCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}
