package edge_test

import (
	"bytes"
	"github.com/tern-cdn/tern/internal/testkit"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/edge/httpcache"
	"github.com/tern-cdn/tern/edge/store"
)

// BenchmarkTierHitLoopback serves a 1 MiB hit through a real listener from
// the memory tier and from the disk tier (sendfile), with a keep-alive
// client: the cost of a disk hit against a memory hit.
func BenchmarkTierHitLoopback(b *testing.B) {
	const size = 1 << 20
	for _, tier := range []struct {
		name string
		t    httpcache.Tier
	}{{"memory", httpcache.TierMemory}, {"disk", httpcache.TierDisk}} {
		b.Run(tier.name, func(b *testing.B) {
			body := bytes.Repeat([]byte("0123456789abcdef"), size/16)
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "public, max-age=3600")
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				w.Write(body)
			}))
			defer origin.Close()
			mem, err := store.NewMemory(64 << 20)
			if err != nil {
				b.Fatal(err)
			}
			disk, err := store.OpenDisk(store.DiskConfig{Dir: b.TempDir(), MaxBytes: 64 << 20})
			if err != nil {
				b.Fatal(err)
			}
			tiers := store.NewTiered(mem, disk, nil)
			defer tiers.Close()
			u, _ := url.Parse(origin.URL)
			h, err := edge.NewHandler(edge.Config{
				Node:     "bench",
				Sites:    []edge.Site{{Name: "b", Hosts: []string{"www.cdn.test"}, Origin: u, Tier: tier.t}},
				Upstream: http.DefaultTransport, ClientFacing: true, Store: tiers,
			})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			srv := listenEdge(b, h)
			go srv.Serve()
			defer srv.Shutdown(b.Context())
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8, DisableCompression: true}}
			get := func() (string, int64) {
				req, _ := http.NewRequest("GET", "http://"+srv.Addr().String()+"/obj", nil)
				req.Host = "www.cdn.test"
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.Header.Get("Cache-Status"), n
			}
			get()
			if st, n := get(); !isHit(st) || n != size {
				b.Fatalf("not a %d byte hit: %q %d", size, st, n)
			}
			b.SetBytes(size)
			b.ReportAllocs()
			cpu0 := testkit.ProcessCPU(b)
			b.ResetTimer()
			defer func() { b.ReportMetric(float64(testkit.ProcessCPU(b)-cpu0)/float64(b.N), "cpu-ns/op") }()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, n := get(); n != size {
						b.Errorf("short body %d", n)
						return
					}
				}
			})
		})
	}
}
