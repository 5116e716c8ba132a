// Command heapprof streams a large object through a cold, sliced edge in
// this process and shows where the edge's memory goes: the Go heap's peak,
// its live size after GC and the GC goal (runtime/metrics, sampled every
// 20 ms), and a heap profile written at the end.
//
//	go run ./bench/slices/heapprof [-size 1024] [-memory 64] [-memlimit 0] [-profile heap.pprof]
//	go tool pprof -sample_index=inuse_space -top heap.pprof
//	go run ./bench/slices/heapprof -size 8 -origin-rate 4   # TTFB against a slow origin
//
// With -origin-rate the origin sends at most that many MiB/s, so the
// first 1 MiB slice takes 1/rate seconds to arrive: a time to first byte
// well below that shows the edge streams a slice as it arrives.
// The origin (127.0.0.1:0) serves a virtual object computed from the
// offset, so the object itself takes no heap; the client checks every byte
// as it arrives. See bench/slices/README.md.
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/edge/store"
)

const mib = 1 << 20

func main() {
	size := flag.Int64("size", 1024, "object size in MiB")
	memory := flag.Int64("memory", 64, "edge memory store in MiB")
	memlimit := flag.Int64("memlimit", 0, "debug.SetMemoryLimit in MiB (0: none, as tern runs today)")
	profile := flag.String("profile", "", "write a heap profile here at the end")
	rate := flag.Float64("origin-rate", 0, "origin send rate in MiB/s (0: unlimited)")
	flag.Parse()
	if err := run(*size*mib, *memory*mib, *memlimit*mib, *profile, *rate); err != nil {
		fmt.Fprintln(os.Stderr, "heapprof:", err)
		os.Exit(1)
	}
}

// word is the 8 bytes at offset 8*i of the object (splitmix64).
func word(i uint64) uint64 {
	z := i + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func byteAt(off int64) byte {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], word(uint64(off)/8))
	return b[off%8]
}

// virtual is an io.ReadSeeker over the computed object.
type virtual struct{ off, size int64 }

func (v *virtual) Read(p []byte) (int, error) {
	if v.off >= v.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), v.size-v.off))
	for i := range n {
		p[i] = byteAt(v.off + int64(i))
	}
	v.off += int64(n)
	return n, nil
}

func (v *virtual) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		v.off = off
	case io.SeekCurrent:
		v.off += off
	case io.SeekEnd:
		v.off = v.size + off
	}
	return v.off, nil
}

func serve(h http.Handler) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv, "http://" + ln.Addr().String(), nil
}

func run(size, memory, memlimit int64, profile string, rate float64) error {
	if memlimit > 0 {
		debug.SetMemoryLimit(memlimit)
	}
	var originBytes atomic.Int64
	osrv, ourl, err := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("ETag", `"virtual-1"`)
		http.ServeContent(countingWriter{w, &originBytes, rate}, r, "", time.Time{}, &virtual{size: size})
	}))
	if err != nil {
		return err
	}
	defer osrv.Close()
	mem, err := store.NewMemory(memory)
	if err != nil {
		return err
	}
	defer mem.Close()
	u, _ := url.Parse(ourl)
	upstream := http.DefaultTransport.(*http.Transport).Clone()
	upstream.DisableCompression = true
	defer upstream.CloseIdleConnections()
	reg := prometheus.NewRegistry()
	h, err := edge.NewHandler(edge.Config{
		Node: "heap-edge", Sites: []edge.Site{{Name: "bench", Hosts: []string{"www.bench.test"}, Origin: u}},
		Upstream: upstream, ClientFacing: true, Store: mem,
		MaxObjectSize: 16 * mib, SliceSize: mib, Registerer: reg,
	})
	if err != nil {
		return err
	}
	defer h.Close()
	esrv, eurl, err := serve(h)
	if err != nil {
		return err
	}
	defer esrv.Close()

	runtime.GC()
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/goal:bytes"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}
	peaks := make([]uint64, len(samples))
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(samples)
			for i, s := range samples {
				peaks[i] = max(peaks[i], s.Value.Uint64())
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()

	req, _ := http.NewRequest(http.MethodGet, eurl+"/big.bin", nil)
	req.Host = "www.bench.test"
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 3 * time.Minute}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	var ttfb time.Duration // to the first body byte
	var off int64
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		if off == 0 && n > 0 {
			ttfb = time.Since(start)
		}
		for i := range n {
			if buf[i] != byteAt(off+int64(i)) {
				resp.Body.Close()
				return fmt.Errorf("byte %d differs", off+int64(i))
			}
		}
		off += int64(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			resp.Body.Close()
			return fmt.Errorf("after %d bytes: %w", off, err)
		}
	}
	resp.Body.Close()
	total := time.Since(start)
	close(stop)
	<-sampled
	if off != size {
		return fmt.Errorf("got %d bytes, want %d", off, size)
	}
	fmt.Printf("streamed %d MiB through a cold edge (store %d MiB, slice 1 MiB, memlimit %d MiB): time to first body byte %s, total %.2fs, bytes checked\n",
		size/mib, memory/mib, memlimit/mib, ttfb.Round(time.Microsecond), total.Seconds())
	if rate > 0 {
		fmt.Printf("origin paced at %.2f MiB/s: the first slice takes %.3fs to arrive whole; ttfb/that = %.3f\n",
			rate, 1/rate, ttfb.Seconds()*rate)
	}
	fmt.Printf("origin body bytes %d = %.3f × object; store holds %.1f MiB\n",
		originBytes.Load(), float64(originBytes.Load())/float64(size), float64(mem.Bytes())/mib)
	fmt.Printf("peak heap objects %.1f MiB, peak live after GC %.1f MiB, peak GC goal %.1f MiB, peak Go total %.1f MiB, GCs %d\n",
		float64(peaks[0])/mib, float64(peaks[2])/mib, float64(peaks[1])/mib, float64(peaks[3])/mib, samples[4].Value.Uint64())
	if profile != "" {
		runtime.GC() // the profile's inuse figures are as of the last GC
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			return err
		}
		fmt.Println("heap profile:", profile)
	}
	return nil
}

// countingWriter counts body bytes and, with rate > 0 (MiB/s), paces them.
type countingWriter struct {
	http.ResponseWriter
	n    *atomic.Int64
	rate float64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	if c.rate > 0 && err == nil {
		if f, ok := c.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		time.Sleep(time.Duration(float64(n) / (c.rate * mib) * float64(time.Second)))
	}
	return n, err
}
