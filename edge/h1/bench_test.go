package h1

import (
	"bufio"
	"bytes"
	"github.com/tern-cdn/tern/internal/testkit"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// BenchmarkServe compares net/http's server with this one on a cache
// hit's shape: a handler that copies 11 header fields from a stored map
// and writes a 1 KiB body with its Content-Length, over loopback, to a
// raw keep-alive client that allocates nothing per request (so allocs/op
// are the server's). cpu-ns/op is the process's CPU time (client
// included) per request. Run with
//
//	go test -run '^$' -bench Serve -benchmem -count 3 ./edge/h1/
func BenchmarkServe(b *testing.B) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 64)
	stored := http.Header{
		"Content-Type":   {"application/octet-stream"},
		"Content-Length": {strconv.Itoa(len(body))},
		"Cache-Control":  {"public, max-age=3600"},
		"Etag":           {`"bench"`},
		"Last-Modified":  {"Mon, 02 Jan 2006 15:04:05 GMT"},
		"Date":           {"Mon, 02 Jan 2006 15:04:05 GMT"},
		"Vary":           {"Accept-Encoding"},
		"Accept-Ranges":  {"bytes"},
		"Server":         {"origin"},
		"Age":            {"12"},
		"Cache-Status":   {"tern; hit"},
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		for k, v := range stored {
			hdr[k] = v
		}
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	})
	b.Run("net", func(b *testing.B) {
		ln := listen(b)
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		done := make(chan struct{})
		go func() { defer close(done); srv.Serve(ln) }()
		defer func() { srv.Close(); <-done }()
		benchClient(b, ln.Addr().String(), len(body))
	})
	b.Run("h1", func(b *testing.B) {
		ln := listen(b)
		srv := &Server{Handler: h}
		done := make(chan struct{})
		go func() { defer close(done); srv.Serve(ln) }()
		defer func() { srv.Close(); <-done }()
		benchClient(b, ln.Addr().String(), len(body))
	})
}

func listen(b *testing.B) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	return ln
}

// benchClient sends b.N GETs on one connection, one at a time, and reads
// each response: the head up to its empty line, then Content-Length
// bytes.
func benchClient(b *testing.B, addr string, size int) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /obj HTTP/1.1\r\nHost: www.cdn.test\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	br := bufio.NewReaderSize(c, 16<<10)
	read := func() {
		n := -1
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
		}
		if n != size {
			b.Fatalf("Content-Length %d, want %d", n, size)
		}
		if _, err := br.Discard(n); err != nil {
			b.Fatal(err)
		}
	}
	c.Write(req) // warm the connection
	read()
	cpu0 := testkit.ProcessCPU(b)
	b.ReportAllocs()
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
