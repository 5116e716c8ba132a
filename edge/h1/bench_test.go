package h1

import (
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
		testkit.RawHits(b, ln.Addr().String(), len(body), "")
	})
	b.Run("h1", func(b *testing.B) {
		ln := listen(b)
		srv := &Server{Handler: h}
		done := make(chan struct{})
		go func() { defer close(done); srv.Serve(ln) }()
		defer func() { srv.Close(); <-done }()
		testkit.RawHits(b, ln.Addr().String(), len(body), "")
	})
}

func listen(b *testing.B) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	return ln
}
