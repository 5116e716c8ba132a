package edge_test

import (
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tern-cdn/tern/edge"
	"github.com/tern-cdn/tern/edge/httpcache"
	"github.com/tern-cdn/tern/edge/store"
)

// withDiskTier puts a disk-only tier behind the harness's edge, in dir.
func withDiskTier(t *testing.T, dir string, reg prometheus.Registerer) func(*edge.Config) {
	return func(c *edge.Config) {
		mem, err := store.NewMemory(8 << 20)
		if err != nil {
			t.Fatal(err)
		}
		disk, err := store.OpenDisk(store.DiskConfig{Dir: dir, MaxBytes: 64 << 20, Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		tiers := store.NewTiered(mem, disk, nil)
		t.Cleanup(func() { tiers.Close() })
		c.Store = tiers
		c.Sites[0].Tier = httpcache.TierDisk
	}
}

// bodyFiles lists the body files under a disk tier's folder.
func bodyFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(filepath.Join(dir, "bodies"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	return files
}

// TestCorruptDiskBodyIsRefetched flips a byte of a stored body file: the
// next request detects it, drops the entry and serves a fresh copy from
// upstream, never the corrupt bytes.
func TestCorruptDiskBodyIsRefetched(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	body := strings.Repeat("disk-body-", 1000)
	hs := newHarness(t, fixed(body, "Cache-Control", "max-age=600", "ETag", `"d1"`), withDiskTier(t, dir, reg))
	hs.get("/x")
	if r := hs.get("/x"); r.body != body || !strings.Contains(r.status(), "hit") {
		t.Fatalf("disk hit: %q", r.status())
	}
	files := bodyFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("body files %v", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(files[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := hs.get("/x")
	if r.code != 200 || r.body != body {
		t.Fatalf("after corruption: %d, body intact %v", r.code, r.body == body)
	}
	hs.expectHits(2)
	if got := sumMetric(t, reg, "tern_store_disk_corrupt_total"); got != 1 {
		t.Errorf("corrupt counter %v, want 1", got)
	}
	// Truncation is caught the same way.
	files = bodyFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("body files after refetch: %v", files)
	}
	if err := os.Truncate(files[0], 10); err != nil {
		t.Fatal(err)
	}
	if r := hs.get("/x"); r.body != body {
		t.Fatalf("after truncation: %d bytes", len(r.body))
	}
	hs.expectHits(3)
}

func sumMetric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// TestDiskHitServesFromFile checks that a disk-only entry is served from
// its file, ranges included.
func TestDiskHitServesFromFile(t *testing.T) {
	dir := t.TempDir()
	hs := newHarness(t, fixed(digits, "Cache-Control", "max-age=600"), withDiskTier(t, dir, prometheus.NewRegistry()))
	hs.get("/d")
	if r := hs.get("/d", "Range", "bytes=3-5"); r.code != 206 || r.body != "345" {
		t.Fatalf("range from disk: %d %q", r.code, r.body)
	}
	if r := hs.get("/d", "Range", "bytes=0-0, -1"); r.code != 206 || !strings.Contains(r.body, "0") || !strings.Contains(r.body, "z") {
		t.Fatalf("multipart from disk: %d", r.code)
	}
	hs.expectHits(1)
}

// TestDiskHitsConcurrentExactBytes sends many concurrent hits on one
// disk-only object over loopback, HTTP/1.1 (sendfile from kept-open files
// for the whole body and large ranges, pread for small ranges) and HTTP/2
// (copied through a buffer): every one gets exactly the stored bytes.
func TestDiskHitsConcurrentExactBytes(t *testing.T) {
	const size = 200 << 10
	rng := rand.New(rand.NewPCG(5, 5))
	raw := make([]byte, size)
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	body := string(raw)
	reg := prometheus.NewRegistry()
	hs := newHarness(t, fixed(body, "Cache-Control", "max-age=600"), withDiskTier(t, t.TempDir(), reg))
	h2 := httptest.NewUnstartedServer(hs.h)
	h2.EnableHTTP2 = true
	h2.StartTLS()
	t.Cleanup(h2.Close)
	for _, proto := range []struct {
		name, url string
		client    *http.Client
		major     int
	}{
		{"HTTP/1.1", hs.edge.URL, &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 8}}, 1},
		{"HTTP/2", h2.URL, h2.Client(), 2},
	} {
		t.Run(proto.name, func(t *testing.T) {
			t.Cleanup(proto.client.CloseIdleConnections)
			get := func(rangeHdr string) (int, string, error) {
				req, err := http.NewRequest(http.MethodGet, proto.url+"/big", nil)
				if err != nil {
					return 0, "", err
				}
				req.Host = "www.cdn.test"
				if rangeHdr != "" {
					req.Header.Set("Range", rangeHdr)
				}
				resp, err := proto.client.Do(req)
				if err != nil {
					return 0, "", err
				}
				defer resp.Body.Close()
				if resp.ProtoMajor != proto.major {
					return 0, "", fmt.Errorf("response over %s", resp.Proto)
				}
				b, err := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b), err
			}
			// The scheme is part of the cache key: each server fills once.
			if code, b, err := get(""); err != nil || code != http.StatusOK || b != body {
				t.Fatalf("first request: %d, %d bytes, %v", code, len(b), err)
			}
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(g), 2))
					for range 25 {
						switch rng.IntN(3) {
						case 0:
							code, b, err := get("")
							if err != nil || code != http.StatusOK || b != body {
								t.Errorf("whole body: %d, %d bytes, %v, exact %v", code, len(b), err, b == body)
							}
						default:
							start := rng.IntN(size)
							n := 1 + rng.IntN(min(size-start, 64<<10)) // both sides of the pread limit
							code, b, err := get(fmt.Sprintf("bytes=%d-%d", start, start+n-1))
							if err != nil || code != http.StatusPartialContent || b != body[start:start+n] {
								t.Errorf("range %d+%d: %d, %d bytes, %v, exact %v", start, n, code, len(b), err, b == body[start:start+n])
							}
						}
					}
				})
			}
			wg.Wait()
		})
	}
	hs.expectHits(2)
	if hits := sumMetric(t, reg, "tern_store_disk_file_cache_hits_total"); hits == 0 {
		t.Error("no hit used a kept-open file")
	}
	if open := sumMetric(t, reg, "tern_store_disk_open_files"); open < 1 || open > 16 {
		t.Errorf("tern_store_disk_open_files = %v after 8 concurrent clients on each of 2 objects", open)
	}
}

// TestInvalidateDiskTier purges objects served from a disk-only tier (by
// URL, by prefix, by tag): the purged ones are fetched again though their
// records and files were kept in memory by the hits before.
func TestInvalidateDiskTier(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := newStack(t, 1, tagOrigin, withDiskTier(t, t.TempDir(), reg))
	all := map[string]bool{"/a": true, "/img/1": true, "/sk/1": true, "/js/1": true}
	s.expect("cold", all)
	warm := map[string]bool{"/a": false, "/img/1": false, "/sk/1": false, "/js/1": false}
	s.expect("warm", warm) // reads the index
	s.expect("warm again", warm)
	if sumMetric(t, reg, "tern_store_disk_index_cache_hits_total") == 0 {
		t.Fatal("the warm hits did not use the index cache")
	}
	s.purge(edge.Invalidation{Site: "test", URLs: []string{"/a"}})
	s.expect("after the URL purge", map[string]bool{"/a": true, "/img/1": false})
	s.purge(edge.Invalidation{Site: "test", Prefixes: []string{"/img/"}})
	s.expect("after the prefix purge", map[string]bool{"/img/1": true, "/js/1": false})
	s.purge(edge.Invalidation{Site: "test", Tags: []string{"t"}})
	s.expect("after the tag purge", map[string]bool{"/sk/1": true, "/js/1": false})
	s.purge(edge.Invalidation{Site: "test", All: true})
	s.expect("after the site purge", all)
}
