package testkit

import (
	"bufio"
	"bytes"
	"net"
	"testing"
)

// RawHits is the benchmark loop of a keep-alive HTTP/1.1 client that
// allocates nothing per request, so allocs/op are the server's: b.N GETs
// of http://www.cdn.test/obj on one connection to addr, one at a time,
// each response read to its empty line and then its Content-Length bytes,
// which must be size. A non-empty marker must appear in the response's
// Cache-Status (e.g. "; hit"). It reports cpu-ns/op (ProcessCPU).
func RawHits(b *testing.B, addr string, size int, marker string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /obj HTTP/1.1\r\nHost: www.cdn.test\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	br := bufio.NewReaderSize(c, 16<<10)
	read := func() {
		n, marked := -1, marker == ""
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
			if !marked && bytes.HasPrefix(line, []byte("Cache-Status: ")) && bytes.Contains(line, []byte(marker)) {
				marked = true
			}
		}
		if n != size || !marked {
			b.Fatalf("Content-Length %d (want %d), Cache-Status marker %q found %v", n, size, marker, marked)
		}
		if _, err := br.Discard(n); err != nil {
			b.Fatal(err)
		}
	}
	c.Write(req) // warm the connection
	read()
	cpu0 := ProcessCPU(b)
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
	b.ReportMetric(float64(ProcessCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}
