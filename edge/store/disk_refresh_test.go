package store

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tern-cdn/tern/edge/httpcache"
	"github.com/tern-cdn/tern/internal/testkit"
)

// revalidated is what the edge stores after a 304 for a disk hit: a new
// entry with the 304's header, whose File is the one the Get gave.
func revalidated(e *httpcache.Entry, etag string) *httpcache.Entry {
	h := http.Header{"Etag": {etag}, "Cache-Control": {"max-age=600"}}
	now := time.Now()
	return e.Revalidated(h, httpcache.Decision{Store: true, Lifetime: 10 * time.Minute}, now, now)
}

// TestDiskRefreshKeepsBodyFile stores a revalidated disk entry: only its
// metadata changes, its body file is the same file (no write, no removal),
// so the File the revalidation holds still opens, and the refreshed entry
// survives a reopen.
func TestDiskRefreshKeepsBodyFile(t *testing.T) {
	dir := t.TempDir()
	d := openTestDisk(t, DiskConfig{Dir: dir})
	first := bodyEntry(0)
	first.Body = bytes.Repeat([]byte("refresh "), 1000)
	if !d.Set("k", first, time.Hour) {
		t.Fatal("Set refused")
	}
	e, _ := d.Get("k")
	want := readBody(t, e)
	writes := metricValue(t, d, "tern_store_disk_writes_total")

	ne := revalidated(e, `"v2"`)
	if !d.Set("k", ne, 2*time.Hour) {
		t.Fatal("Set of the revalidated entry refused")
	}
	if got := readBody(t, ne); !bytes.Equal(got, want) {
		t.Fatalf("the revalidated entry's own File: %d bytes, want %d", len(got), len(want))
	}
	if n, size := bodyFiles(t, d); n != 1 || size != int64(len(want)) {
		t.Errorf("body files after the refresh: %d, %d bytes", n, size)
	}
	got, ok := d.Get("k")
	if !ok || got.ETag != `"v2"` || got.File.(*diskBody).id != e.File.(*diskBody).id {
		t.Fatalf("after the refresh: ok %v, ETag %q", ok, got.ETag)
	}
	v := (&record{meta: encodeEntry(nil, ne)}).append(nil)
	if cost := objectCost("k", len(v), int64(len(want))); d.Objects() != 1 || d.Bytes() != cost {
		t.Errorf("totals after the refresh: %d objects, %d bytes, want 1, %d", d.Objects(), d.Bytes(), cost)
	}
	if w := metricValue(t, d, "tern_store_disk_writes_total"); w != writes+1 {
		t.Errorf("writes %v, want %v", w, writes+1)
	}

	// The refresh is in the index: a reopened cache serves it.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = openTestDisk(t, DiskConfig{Dir: dir})
	got, ok = d.Get("k")
	if !ok || got.ETag != `"v2"` || !bytes.Equal(readBody(t, got), want) {
		t.Fatalf("after a reopen: ok %v", ok)
	}
}

// TestDiskRefreshOfReplacedEntry: a revalidation that ends after the key
// was replaced (or deleted) stores nothing, and the replacement stands.
func TestDiskRefreshOfReplacedEntry(t *testing.T) {
	d := openTestDisk(t, DiskConfig{})
	d.Set("k", bodyEntry(3000), time.Hour)
	old, _ := d.Get("k")
	d.Set("k", bodyEntry(4000), time.Hour)
	if d.Set("k", revalidated(old, `"old"`), time.Hour) {
		t.Error("a refresh of a replaced entry was stored")
	}
	if e, ok := d.Get("k"); !ok || e.File.Size() != 4000 || e.ETag == `"old"` {
		t.Errorf("the replacement is gone: %v", ok)
	}
	cur, _ := d.Get("k")
	d.Delete("k")
	if d.Set("k", revalidated(cur, `"gone"`), time.Hour) {
		t.Error("a refresh of a deleted entry was stored")
	}
	if d.Objects() != 0 {
		t.Errorf("objects after the delete: %d", d.Objects())
	}
	// A File of another key, or of another cache, is refused too.
	d.Set("a", bodyEntry(100), time.Hour)
	a, _ := d.Get("a")
	other := openTestDisk(t, DiskConfig{})
	for name, s := range map[string]*Disk{"other key": d, "other cache": other} {
		if s.Set("b", revalidated(a, `"x"`), time.Hour) {
			t.Errorf("%s: Set admitted a foreign File", name)
		}
	}
}

// TestTieredRefreshAfterRestart is the restart case: the memory tier is
// empty, the entry comes from disk with a File, is revalidated and stored
// again; its File still opens, the memory tier gets the new metadata, and
// the disk keeps a single body file.
func TestTieredRefreshAfterRestart(t *testing.T) {
	dir := t.TempDir()
	d := openTestDisk(t, DiskConfig{Dir: dir})
	body := bytes.Repeat([]byte("tiered "), 2000)
	e := bodyEntry(0)
	e.Body = body
	d.Set("k", e, time.Hour)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDisk(DiskConfig{Dir: dir, MaxBytes: 64 * mib, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	mem, err := NewMemory(mib)
	if err != nil {
		t.Fatal(err)
	}
	tiers := NewTiered(mem, d, nil)
	defer tiers.Close()

	got, ok := tiers.Get("k")
	if !ok || got.File == nil {
		t.Fatalf("disk hit after restart: %v", ok)
	}
	ne := revalidated(got, `"v2"`)
	if !tiers.Set("k", ne, time.Hour) {
		t.Fatal("Set of the revalidated entry refused")
	}
	if b := readBody(t, ne); !bytes.Equal(b, body) {
		t.Fatalf("the revalidated entry's File: %d bytes", len(b))
	}
	if n, _ := bodyFiles(t, d); n != 1 {
		t.Errorf("%d body files", n)
	}
	// Memory gets the refreshed copy (promoted in the background) or
	// none; never the metadata from before the revalidation.
	testkit.Eventually(t, 5*time.Second, "the refreshed entry to reach memory", func() bool {
		m, ok := mem.Get("k")
		if ok && (m.ETag != `"v2"` || !bytes.Equal(m.Body, body)) {
			t.Fatalf("memory holds ETag %q, %d bytes", m.ETag, len(m.Body))
		}
		return ok
	})
}
