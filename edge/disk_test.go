package edge_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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
