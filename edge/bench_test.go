package edge_test

import (
	"bytes"
	"github.com/tern-cdn/tern/internal/testkit"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/edge/httpcache"
	"github.com/tern-cdn/tern/edge/store"
)

// The hit path: a warmed entry served to a client. BenchmarkHit measures
// the handler alone (ServeHTTP with a writer that discards the body);
// BenchmarkHitLoopback adds net/http on both ends of a loopback
// connection. Run with
//
//	go test -run '^$' -bench Hit -benchmem ./edge/

var hitSizes = []struct {
	name string
	size int
	disk bool // served from a disk tier only
}{
	{"1KiB", 1 << 10, false},
	{"100KiB", 100 << 10, false},
	{"1MiB", 1 << 20, false},
	{"disk-1KiB", 1 << 10, true},
	{"disk-100KiB", 100 << 10, true},
	{"disk-1MiB", 1 << 20, true},
}

// recordingStore is a Store that remembers the last entry Get returned, so
// a test can compare what the handler wrote with what it was given.
type recordingStore struct {
	httpcache.Store
	mu   sync.Mutex
	last *httpcache.Entry
}

func (s *recordingStore) Get(key string) (*httpcache.Entry, bool) {
	e, ok := s.Store.Get(key)
	if ok {
		s.mu.Lock()
		s.last = e
		s.mu.Unlock()
	}
	return e, ok
}

func (s *recordingStore) lastEntry() *httpcache.Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// benchEdge is a handler in front of a loopback origin that serves one
// cacheable object of a given size at /obj.
type benchEdge struct {
	h     *edge.Handler
	store *recordingStore // nil unless asked for
	body  []byte
}

// newBenchEdge builds a benchEdge and registers its clean-up on tb. With
// record, its store remembers the entries it returns (at the cost of a
// lock per Get, which benchmarks should not pay).
func newBenchEdge(tb testing.TB, size int, record bool) *benchEdge {
	tb.Helper()
	return newBenchEdgeOn(tb, size, record, false)
}

// newBenchEdgeOn is newBenchEdge, and with disk the object is kept in a
// disk tier only (the site's Tier excludes memory), so every hit is
// served from its body file.
func newBenchEdgeOn(tb testing.TB, size int, record, disk bool) *benchEdge {
	tb.Helper()
	body := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("ETag", `"bench"`)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}))
	tb.Cleanup(origin.Close)
	mem, err := store.NewMemory(64 << 20)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(mem.Close)
	var st httpcache.Store = mem
	var tier httpcache.Tier
	if disk {
		d, err := store.OpenDisk(store.DiskConfig{Dir: tb.TempDir(), MaxBytes: 256 << 20})
		if err != nil {
			tb.Fatal(err)
		}
		tiers := store.NewTiered(mem, d, nil)
		tb.Cleanup(func() { tiers.Close() })
		st, tier = tiers, httpcache.TierDisk
	}
	var rec *recordingStore
	if record {
		rec = &recordingStore{Store: st}
		st = rec
	}
	u, _ := url.Parse(origin.URL)
	upstream := http.DefaultTransport.(*http.Transport).Clone()
	upstream.DisableCompression = true
	tb.Cleanup(upstream.CloseIdleConnections)
	h, err := edge.NewHandler(edge.Config{
		Node:         "bench-edge",
		Sites:        []edge.Site{{Name: "bench", Hosts: []string{"www.cdn.test"}, Origin: u, Tier: tier}},
		Upstream:     upstream,
		ClientFacing: true,
		Store:        st,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(h.Close)
	return &benchEdge{h: h, store: rec, body: body}
}

// discardWriter is a minimal reusable http.ResponseWriter: it keeps the
// status, counts the body and remembers the first slice written, so the
// benchmark measures the handler and not a recorder.
type discardWriter struct {
	hdr   http.Header
	code  int
	n     int
	first []byte
}

func (w *discardWriter) Header() http.Header { return w.hdr }

func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if w.first == nil {
		w.first = p
	}
	w.n += len(p)
	return len(p), nil
}

func (w *discardWriter) reset() {
	clear(w.hdr)
	w.code, w.n, w.first = 0, 0, nil
}

func newHitRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://www.cdn.test/obj", nil)
	r.Header.Set("User-Agent", "bench")
	r.Header.Set("Accept", "*/*")
	return r
}

// warm fetches /obj until it is stored and served as a hit, and returns
// the writer of that hit.
func (be *benchEdge) warm(tb testing.TB) *discardWriter {
	tb.Helper()
	w := &discardWriter{hdr: make(http.Header)}
	for range 50 {
		w.reset()
		be.h.ServeHTTP(w, newHitRequest())
		if isHit(w.hdr.Get("Cache-Status")) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !isHit(w.hdr.Get("Cache-Status")) {
		tb.Fatalf("never became a hit; Cache-Status = %q", w.hdr.Get("Cache-Status"))
	}
	if w.code != http.StatusOK || w.n != len(be.body) {
		tb.Fatalf("hit = %d with %d bytes, want 200 with %d", w.code, w.n, len(be.body))
	}
	return w
}

func isHit(cacheStatus string) bool { return strings.Contains(cacheStatus, "; hit") }

func BenchmarkHit(b *testing.B) {
	for _, sz := range hitSizes {
		b.Run(sz.name, func(b *testing.B) {
			be := newBenchEdgeOn(b, sz.size, false, sz.disk)
			w := be.warm(b)
			r := newHitRequest()
			b.ReportAllocs()
			b.SetBytes(int64(sz.size))
			for b.Loop() {
				w.reset()
				be.h.ServeHTTP(w, r)
			}
			if w.code != http.StatusOK || w.n != sz.size {
				b.Fatalf("last response = %d with %d bytes", w.code, w.n)
			}
		})
	}
}

func BenchmarkHitLoopback(b *testing.B) {
	for _, sz := range hitSizes {
		b.Run(sz.name, func(b *testing.B) {
			be := newBenchEdgeOn(b, sz.size, false, sz.disk)
			be.warm(b)
			srv := listenEdge(b, be.h)
			done := make(chan error, 1)
			go func() { done <- srv.Serve() }()
			b.Cleanup(func() {
				srv.Shutdown(b.Context())
				<-done
			})
			tr := &http.Transport{
				MaxIdleConnsPerHost: 64,
				DisableCompression:  true,
			}
			b.Cleanup(tr.CloseIdleConnections)
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			target := "http://" + srv.Addr().String() + "/obj"
			get := func(buf []byte) (int, string, int64, error) {
				req, err := http.NewRequest(http.MethodGet, target, nil)
				if err != nil {
					return 0, "", 0, err
				}
				req.Host = "www.cdn.test"
				resp, err := client.Do(req)
				if err != nil {
					return 0, "", 0, err
				}
				defer resp.Body.Close()
				n, err := io.CopyBuffer(io.Discard, resp.Body, buf)
				return resp.StatusCode, resp.Header.Get("Cache-Status"), n, err
			}
			code, cs, n, err := get(make([]byte, 32<<10))
			if err != nil || code != http.StatusOK || !isHit(cs) || n != int64(sz.size) {
				b.Fatalf("first request: %d, %q, %d bytes, %v", code, cs, n, err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(sz.size))
			cpu0 := testkit.ProcessCPU(b)
			b.ResetTimer()
			defer func() { b.ReportMetric(float64(testkit.ProcessCPU(b)-cpu0)/float64(b.N), "cpu-ns/op") }()
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 32<<10)
				for pb.Next() {
					code, cs, n, err := get(buf)
					if err != nil || code != http.StatusOK || n != int64(sz.size) || !isHit(cs) {
						b.Errorf("request: %d, %q, %d bytes, %v", code, cs, n, err)
						return
					}
				}
			})
		})
	}
}

// TestHitDoesNotCopyBody checks that a hit hands the stored body to Write
// as it is: no copy of the body per request.
func TestHitDoesNotCopyBody(t *testing.T) {
	be := newBenchEdge(t, 100<<10, true)
	w := be.warm(t)
	e := be.store.lastEntry()
	if e == nil || len(e.Body) != len(be.body) {
		t.Fatalf("stored entry not found or wrong size")
	}
	if len(w.first) == 0 || unsafe.SliceData(w.first) != unsafe.SliceData(e.Body) {
		t.Errorf("Write got %d bytes at %p, want the stored body at %p (%d bytes)",
			len(w.first), unsafe.SliceData(w.first), unsafe.SliceData(e.Body), len(e.Body))
	}
	if w.n != len(e.Body) {
		t.Errorf("wrote %d bytes, want %d", w.n, len(e.Body))
	}
}

// TestHitAllocations: a hit from memory allocates once in the handler
// (its cache key); Cache-Status and Age are formatted once a second for
// all hits of an entry, and each hit still gets its own entry's values.
func TestHitAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	be := newBenchEdge(t, 1<<10, false)
	w := be.warm(t)
	r := newHitRequest()
	allocs := testing.AllocsPerRun(200, func() {
		w.reset()
		be.h.ServeHTTP(w, r)
	})
	if w.code != http.StatusOK || w.n != 1<<10 || !isHit(w.hdr.Get("Cache-Status")) {
		t.Fatalf("hit = %d, %d bytes, %q", w.code, w.n, w.hdr.Get("Cache-Status"))
	}
	if allocs > 1 {
		t.Errorf("%.1f allocations per hit, want at most 1", allocs)
	}
}

// BenchmarkHitCompressed compares a hit on a text object served as
// stored (identity) with one served from its stored br variant: the
// compressed hit must cost no compression, only the lookup of the
// variant.
func BenchmarkHitCompressed(b *testing.B) {
	body := []byte(strings.Repeat("function add(a, b) { return a + b; } // tern\n", 2400)) // 108 KB
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/javascript")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("ETag", `"bench"`)
		w.Write(body)
	}))
	b.Cleanup(origin.Close)
	mem, err := store.NewMemory(64 << 20)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(mem.Close)
	u, _ := url.Parse(origin.URL)
	h, err := edge.NewHandler(edge.Config{
		Node: "bench-edge",
		Sites: []edge.Site{{Name: "bench", Hosts: []string{"www.cdn.test"}, Origin: u,
			Compression: edge.Compression{Codings: []string{"br", "zstd", "gzip"}}}},
		Upstream: http.DefaultTransport, ClientFacing: true, Store: mem,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.Close)
	for _, coding := range []string{"identity", "br"} {
		b.Run(coding, func(b *testing.B) {
			r := newHitRequest()
			if coding != "identity" {
				r.Header.Set("Accept-Encoding", "gzip, deflate, "+coding)
			}
			w := &discardWriter{hdr: make(http.Header)}
			for range 100 {
				w.reset()
				h.ServeHTTP(w, r)
				if isHit(w.hdr.Get("Cache-Status")) && (coding == "identity") == (w.hdr.Get("Content-Encoding") == "") {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if !isHit(w.hdr.Get("Cache-Status")) || (coding != "identity" && w.hdr.Get("Content-Encoding") != coding) {
				b.Fatalf("never a %s hit: %q %q", coding, w.hdr.Get("Cache-Status"), w.hdr.Get("Content-Encoding"))
			}
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				h.ServeHTTP(w, r)
			}
			b.ReportMetric(float64(w.n), "body-bytes")
		})
	}
}
