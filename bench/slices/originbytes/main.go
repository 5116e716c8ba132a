// Command originbytes measures how many bytes a sliced edge cache pulls
// from its origin for random client ranges of a large object.
//
//	go run ./bench/slices/originbytes [-size 256MiB] [-ranges 200] [-seed 1] [-c 1]
//
// Everything runs in this process on loopback: an origin (net/http on
// 127.0.0.1:0) serving a deterministic pseudo-random object with
// http.ServeContent and counting the body bytes it sends, and an edge
// (edge.NewHandler with 1 MiB slices and a memory store) on a real
// listener. The client asks the cold edge for -ranges random 1 MiB ranges
// (fixed seed), checks every body byte for byte, and prints origin bytes
// divided by (distinct slices touched × slice size), target 1.0; then it
// asks for the same ranges again and prints the origin bytes of that
// repeat, target 0. It exits 1 if any response is wrong. See
// bench/slices/README.md.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/edge/httpcache"
	"github.com/tern-cdn/tern/edge/store"
)

const (
	mib      = 1 << 20
	siteHost = "www.bench.test"
	objPath  = "/video/big.bin"
)

func main() {
	size := flag.Int64("size", 256, "object size in MiB")
	n := flag.Int("ranges", 200, "client ranges per pass")
	rangeLen := flag.Int64("range-len", mib, "length of each client range in bytes")
	sliceSize := flag.Int64("slice", mib, "edge slice size in bytes")
	memory := flag.Int64("memory", 512, "edge memory store in MiB")
	seed := flag.Uint64("seed", 1, "seed of the object bytes and of the range offsets")
	conc := flag.Int("c", 1, "concurrent clients (1: one range after the other)")
	flag.Parse()
	if err := run(*size*mib, *n, *rangeLen, *sliceSize, *memory*mib, *seed, *conc); err != nil {
		fmt.Fprintln(os.Stderr, "originbytes:", err)
		os.Exit(1)
	}
}

// countingOrigin serves one object with http.ServeContent and counts the
// requests and body bytes it sends.
type countingOrigin struct {
	obj      []byte
	etag     string
	mod      time.Time
	requests atomic.Int64
	sent     atomic.Int64
}

func (o *countingOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != objPath {
		http.NotFound(w, r)
		return
	}
	o.requests.Add(1)
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("ETag", o.etag)
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(countingWriter{w, &o.sent}, r, "", o.mod, bytes.NewReader(o.obj))
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// serve starts h on a fresh loopback listener.
func serve(h http.Handler) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv, "http://" + ln.Addr().String(), nil
}

type span struct{ start, end int64 } // inclusive

func run(size int64, n int, rangeLen, sliceSize, memory int64, seed uint64, conc int) error {
	if size < rangeLen || rangeLen <= 0 || sliceSize <= 0 || n <= 0 || conc <= 0 {
		return errors.New("need size >= range-len > 0, slice > 0, ranges > 0, c > 0")
	}
	t0 := time.Now()
	obj := make([]byte, size)
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	rand.NewChaCha8(key).Read(obj)
	genTime := time.Since(t0)

	o := &countingOrigin{obj: obj, etag: `"bench-` + strconv.FormatUint(seed, 16) + `"`,
		mod: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	osrv, ourl, err := serve(o)
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
		Node:          "bench-edge",
		Sites:         []edge.Site{{Name: "bench", Hosts: []string{siteHost}, Origin: u, Policy: httpcache.Policy{HeuristicFraction: 0.1, HeuristicMax: 24 * time.Hour}}},
		Upstream:      upstream,
		ClientFacing:  true,
		Store:         mem,
		MaxObjectSize: 16 * mib,
		SliceSize:     sliceSize,
		Registerer:    reg,
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

	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	spans := make([]span, n)
	touched := map[int64]bool{}
	for i := range spans {
		s := rng.Int64N(size - rangeLen + 1)
		spans[i] = span{s, s + rangeLen - 1}
		for k := s / sliceSize; k <= (s+rangeLen-1)/sliceSize; k++ {
			touched[k] = true
		}
	}
	var wantBytes int64 // the touched slices' bytes: the last may be short
	for k := range touched {
		wantBytes += min(sliceSize, size-k*sliceSize)
	}

	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: conc}, Timeout: time.Minute}
	defer client.CloseIdleConnections()

	fmt.Printf("object: %d MiB (ChaCha8, seed %d, generated in %s); slice %d B; edge memory %d MiB; max_object_size 16 MiB\n",
		size/mib, seed, genTime.Round(time.Millisecond), sliceSize, memory/mib)
	fmt.Printf("client: %d ranges of %d B, random starts (PCG seed %d), %d concurrent; distinct slices touched: %d (%d bytes)\n",
		n, rangeLen, seed, conc, len(touched), wantBytes)

	type pass struct {
		name                       string
		originBytes, originReqs    int64
		upstreamReqs, sliceFetches float64
		elapsed                    time.Duration
		bad                        int
	}
	var passes []pass
	for _, name := range []string{"cold", "repeat"} {
		b0, r0 := o.sent.Load(), o.requests.Load()
		u0, s0 := metric(reg, "tern_edge_upstream_requests_total"), metric(reg, "tern_edge_slice_fetches_total")
		start := time.Now()
		bad := fetchAll(client, eurl, obj, spans, conc)
		p := pass{name: name, originBytes: o.sent.Load() - b0, originReqs: o.requests.Load() - r0,
			upstreamReqs: metric(reg, "tern_edge_upstream_requests_total") - u0,
			sliceFetches: metric(reg, "tern_edge_slice_fetches_total") - s0,
			elapsed:      time.Since(start), bad: bad}
		passes = append(passes, p)
		fmt.Printf("%-6s pass: %.2fs, wrong responses %d, origin requests %d, origin body bytes %d, edge upstream requests %.0f, slice fetches %.0f\n",
			name, p.elapsed.Seconds(), p.bad, p.originReqs, p.originBytes, p.upstreamReqs, p.sliceFetches)
	}
	cold, rep := passes[0], passes[1]
	ratio := float64(cold.originBytes) / float64(wantBytes)
	fmt.Printf("RESULT cold: origin bytes / (distinct slices × slice) = %d / %d = %.4f (target 1.0) %s\n",
		cold.originBytes, wantBytes, ratio, verdict(cold.originBytes == wantBytes))
	fmt.Printf("RESULT repeat: origin bytes = %d (target 0) %s\n", rep.originBytes, verdict(rep.originBytes == 0))
	fmt.Printf("store: %d bytes held, %d objects\n", mem.Bytes(), mem.Objects())
	if cold.bad+rep.bad > 0 {
		return fmt.Errorf("%d wrong responses", cold.bad+rep.bad)
	}
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "OK"
	}
	return "MISSED"
}

// fetchAll asks the edge for every span with conc clients and returns how
// many responses were wrong (each is reported on stderr).
func fetchAll(client *http.Client, base string, obj []byte, spans []span, conc int) int {
	var bad atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(spans) {
					return
				}
				if err := fetch(client, base, obj, spans[i]); err != nil {
					bad.Add(1)
					fmt.Fprintf(os.Stderr, "range %d (bytes=%d-%d): %v\n", i, spans[i].start, spans[i].end, err)
				}
			}
		})
	}
	wg.Wait()
	return int(bad.Load())
}

func fetch(client *http.Client, base string, obj []byte, sp span) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+objPath, nil)
	if err != nil {
		return err
	}
	req.Host = siteHost
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", sp.start, sp.end))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("body after %d bytes: %w", len(got), err)
	}
	if resp.StatusCode != http.StatusPartialContent {
		return fmt.Errorf("status %d, want 206", resp.StatusCode)
	}
	wantCR := fmt.Sprintf("bytes %d-%d/%d", sp.start, sp.end, len(obj))
	if cr := resp.Header.Get("Content-Range"); cr != wantCR {
		return fmt.Errorf("Content-Range %q, want %q", cr, wantCR)
	}
	want := obj[sp.start : sp.end+1]
	if !bytes.Equal(got, want) {
		at := 0
		for at < min(len(got), len(want)) && got[at] == want[at] {
			at++
		}
		return fmt.Errorf("body differs from the object at byte %d of the range (%d bytes, want %d)", at, len(got), len(want))
	}
	return nil
}

// metric sums every sample of the named counter or gauge.
func metric(reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return -1
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil {
				sum += c.GetValue()
			}
			if g := m.GetGauge(); g != nil {
				sum += g.GetValue()
			}
		}
	}
	return sum
}
