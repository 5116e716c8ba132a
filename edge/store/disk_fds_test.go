package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// versionEntry is version v of an object: n bytes, all v's letter, and
// the version in its header, so a reader can tell which version a body
// belongs to and whether it is whole.
func versionEntry(v, n int) *httpcache.Entry {
	return &httpcache.Entry{
		Status: http.StatusOK,
		Header: http.Header{"X-Version": {strconv.Itoa(v)}},
		Body:   bytes.Repeat([]byte{versionByte(v)}, n),
	}
}

func versionByte(v int) byte { return 'a' + byte(v%26) }

// hit is a disk hit as the edge makes it: Get, Open, read the body,
// Close. It returns the version the metadata names and the body; ok is
// false when the entry was replaced between Get and Open.
func hit(t *testing.T, d *Disk, key string) (version int, body []byte, ok bool) {
	t.Helper()
	e, found := d.Get(key)
	if !found {
		return 0, nil, false
	}
	v, err := strconv.Atoi(e.Header.Get("X-Version"))
	if err != nil {
		t.Fatalf("bad X-Version %q", e.Header.Get("X-Version"))
	}
	f, err := e.File.Open()
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil, false
	}
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return v, b, true
}

// checkVersion fails unless body is version v's, whole.
func checkVersion(t *testing.T, v int, body []byte, n int) {
	t.Helper()
	if len(body) != n || bytes.Count(body, []byte{versionByte(v)}) != n {
		t.Errorf("version %d: a body of %d bytes, %d of them %q; want %d",
			v, len(body), bytes.Count(body, []byte{versionByte(v)}), versionByte(v), n)
	}
}

// openBodyFDs counts this process's descriptors open on files under dir,
// and how many of those name a removed file.
func openBodyFDs(t *testing.T, dir string) (open, deleted int) {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil || !strings.HasPrefix(target, dir) {
			continue
		}
		open++
		if strings.HasSuffix(target, " (deleted)") {
			deleted++
		}
	}
	return open, deleted
}

// A hit that holds the old version's file while the key is replaced
// reads the old version whole; the next hit reads the new one whole.
func TestDiskReplacedWhileOpen(t *testing.T) {
	const n = 256 * kib
	d := openTestDisk(t, DiskConfig{})
	d.Set("k", versionEntry(0, n), time.Hour)
	// A first hit leaves its descriptor in the cache; the second takes it.
	if v, b, ok := hit(t, d, "k"); !ok || v != 0 {
		t.Fatalf("first hit: version %d, ok %v", v, ok)
	} else {
		checkVersion(t, v, b, n)
	}
	e, _ := d.Get("k")
	f, err := e.File.Open()
	if err != nil {
		t.Fatal(err)
	}
	half := make([]byte, n/2)
	if _, err := io.ReadFull(f, half); err != nil {
		t.Fatal(err)
	}
	if !d.Set("k", versionEntry(1, n), time.Hour) {
		t.Fatal("Set refused")
	}
	rest, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	checkVersion(t, 0, append(half, rest...), n)
	if v, b, ok := hit(t, d, "k"); !ok || v != 1 {
		t.Fatalf("after the replacement: version %d, ok %v", v, ok)
	} else {
		checkVersion(t, v, b, n)
	}
	// The old file's descriptor was closed when it came back.
	if open, deleted := openBodyFDs(t, d.bodies); deleted != 0 || open != 1 {
		t.Errorf("%d descriptors open on body files, %d of them removed; want 1 and 0", open, deleted)
	}
}

// Hits racing replacements never get a body that is not the version their
// metadata names, whole: not the previous version's, not a mix, not a
// part.
func TestDiskReplaceRacingHits(t *testing.T) {
	const n = 40 * kib
	d := openTestDisk(t, DiskConfig{OpenFiles: 4})
	d.Set("k", versionEntry(0, n), time.Hour)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if v, b, ok := hit(t, d, "k"); ok {
					checkVersion(t, v, b, n)
				}
			}
		})
	}
	for v := 1; v <= 60; v++ {
		if !d.Set("k", versionEntry(v, n), time.Hour) {
			t.Errorf("Set %d refused", v)
		}
	}
	close(stop)
	wg.Wait()
	if v, b, ok := hit(t, d, "k"); !ok || v != 60 {
		t.Errorf("last hit: version %d, ok %v; want 60", v, ok)
	} else {
		checkVersion(t, v, b, n)
	}
	if _, deleted := openBodyFDs(t, d.bodies); deleted != 0 {
		t.Errorf("%d descriptors still open on removed body files", deleted)
	}
}

// Eviction, Delete, DeleteTag and Close close the descriptors of the
// files they remove: none stays open on a removed file, and none at all
// once the cache is empty.
func TestDiskRemovalClosesFiles(t *testing.T) {
	for _, how := range []string{"evict", "delete", "tag", "close"} {
		t.Run(how, func(t *testing.T) {
			d := openTestDisk(t, DiskConfig{MaxBytes: 200 * kib})
			keys := make([]string, 8)
			for i := range keys {
				keys[i] = fmt.Sprintf("k%d", i)
				e := versionEntry(i, 16*kib)
				e.SurrogateKeys = []string{"all"}
				d.Set(keys[i], e, time.Hour)
				if v, b, ok := hit(t, d, keys[i]); !ok {
					t.Fatalf("no hit on %s", keys[i])
				} else {
					checkVersion(t, v, b, 16*kib)
				}
			}
			if open, _ := openBodyFDs(t, d.bodies); open != len(keys) {
				t.Fatalf("%d descriptors open after %d hits, want one each", open, len(keys))
			}
			switch how {
			case "evict":
				// 20 more objects push the first ones out.
				for i := range 20 {
					d.Set(fmt.Sprintf("new%d", i), versionEntry(i, 16*kib), time.Hour)
				}
				if _, ok := d.Get(keys[0]); ok {
					t.Fatal("nothing was evicted")
				}
			case "delete":
				for _, k := range keys {
					d.Delete(k)
				}
			case "tag":
				if got := d.DeleteTag("all", nil); got != len(keys) {
					t.Fatalf("DeleteTag removed %d, want %d", got, len(keys))
				}
			case "close":
				if err := d.Close(); err != nil {
					t.Fatal(err)
				}
			}
			open, deleted := openBodyFDs(t, d.bodies)
			if deleted != 0 {
				t.Errorf("%d descriptors open on removed body files", deleted)
			}
			if how != "evict" && open != 0 {
				t.Errorf("%d descriptors open on body files, want 0", open)
			}
			if n, _ := d.fds.stats(); n != open {
				t.Errorf("the file cache counts %d open, /proc/self/fd %d", n, open)
			}
		})
	}
}

// The idle descriptors kept stay within OpenFiles, least recently used
// out first, however many bodies are hit.
func TestDiskOpenFilesBound(t *testing.T) {
	d := openTestDisk(t, DiskConfig{OpenFiles: 3})
	for i := range 10 {
		k := fmt.Sprintf("k%d", i)
		d.Set(k, versionEntry(i, 4*kib), time.Hour)
		hit(t, d, k)
		if open, _ := openBodyFDs(t, d.bodies); open > 3 {
			t.Fatalf("after %d hits: %d descriptors open, bound 3", i+1, open)
		}
	}
	open, idle := d.fds.stats()
	if open != 3 || idle != 3 {
		t.Errorf("file cache: %d open, %d idle; want 3 and 3", open, idle)
	}
	// The last three are the ones kept: hits on them open nothing.
	misses := metricValue(t, d, "tern_store_disk_file_cache_misses_total")
	for _, k := range []string{"k7", "k8", "k9"} {
		hit(t, d, k)
	}
	if got := metricValue(t, d, "tern_store_disk_file_cache_misses_total"); got != misses {
		t.Errorf("hits on the kept files opened %v files", got-misses)
	}
	// Lent descriptors are not bounded, and go back within the bound.
	var held []httpcache.File
	for i := range 6 {
		e, _ := d.Get(fmt.Sprintf("k%d", i%2))
		f, err := e.File.Open()
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, f)
	}
	for _, f := range held {
		f.Close()
	}
	if open, idle := d.fds.stats(); open != 3 || idle != 3 {
		t.Errorf("after 6 lent and returned: %d open, %d idle; want 3 and 3", open, idle)
	}
	if open, _ := openBodyFDs(t, d.bodies); open != 3 {
		t.Errorf("%d descriptors open, want 3", open)
	}

	// OpenFiles < 0 keeps none.
	d0 := openTestDisk(t, DiskConfig{OpenFiles: -1})
	d0.Set("k", versionEntry(0, kib), time.Hour)
	hit(t, d0, "k")
	if open, _ := openBodyFDs(t, d0.bodies); open != 0 {
		t.Errorf("OpenFiles -1: %d descriptors kept", open)
	}
}

// Concurrent hits on one body, through one cached descriptor or several,
// read exactly its bytes: whole reads, and ReadAt ranges.
func TestDiskConcurrentHitsOneBody(t *testing.T) {
	const n = 300 * kib
	d := openTestDisk(t, DiskConfig{})
	body := randomBody(rand.New(rand.NewPCG(7, 7)), n)
	d.Set("k", &httpcache.Entry{Status: 200, Header: http.Header{}, Body: body}, time.Hour)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for range 40 {
				e, ok := d.Get("k")
				if !ok {
					t.Error("miss")
					return
				}
				f, err := e.File.Open()
				if err != nil {
					t.Error(err)
					return
				}
				if rng.IntN(2) == 0 {
					b, err := io.ReadAll(f)
					if err != nil || !bytes.Equal(b, body) {
						t.Errorf("whole read: %d bytes, %v, equal %v", len(b), err, bytes.Equal(b, body))
					}
				} else {
					off := rng.IntN(n)
					b := make([]byte, rng.IntN(n-off)+1)
					if _, err := f.ReadAt(b, int64(off)); err != nil && err != io.EOF {
						t.Error(err)
					} else if !bytes.Equal(b, body[off:off+len(b)]) {
						t.Errorf("ReadAt(%d, %d) gave other bytes", off, len(b))
					}
				}
				f.Close()
			}
		})
	}
	wg.Wait()
	if open, _ := d.fds.stats(); open > 8 {
		t.Errorf("%d descriptors for 8 concurrent readers", open)
	}
}

// A closed File cannot be read, and closing it again changes nothing.
func TestDiskFileUseAfterClose(t *testing.T) {
	d := openTestDisk(t, DiskConfig{})
	d.Set("k", versionEntry(0, kib), time.Hour)
	e, _ := d.Get("k")
	f, err := e.File.Open()
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := f.Read(make([]byte, 1)); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
	if err := f.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if open, idle := d.fds.stats(); open != 1 || idle != 1 {
		t.Errorf("after a double Close: %d open, %d idle; want 1 and 1", open, idle)
	}
}

// Every change to a key's record reaches the next Get, though the record
// was cached: a replacement, a refresh, Delete, DeleteTag, expiry and a
// dropped corrupt body. After a restart the cache fills again from the
// index.
func TestDiskIndexCacheCoherent(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	d := openTestDisk(t, DiskConfig{Dir: dir, Now: clk.Now})
	version := func(key string) int {
		t.Helper()
		e, ok := d.Get(key)
		if !ok {
			return -1
		}
		v, _ := strconv.Atoi(e.Header.Get("X-Version"))
		return v
	}
	d.Set("k", versionEntry(1, kib), time.Hour)
	version("k")
	misses := metricValue(t, d, "tern_store_disk_index_cache_misses_total")
	if version("k") != 1 || metricValue(t, d, "tern_store_disk_index_cache_misses_total") != misses {
		t.Fatal("a second Get read the index")
	}
	if metricValue(t, d, "tern_store_disk_index_cache_hits_total") == 0 {
		t.Error("no index cache hit counted")
	}

	d.Set("k", versionEntry(2, kib), time.Hour)
	if v := version("k"); v != 2 {
		t.Errorf("after a replacement: version %d, want 2", v)
	}

	e, _ := d.Get("k")
	r := *e
	r.Header = http.Header{"X-Version": {"3"}}
	if !d.Set("k", &r, time.Hour) {
		t.Fatal("refresh refused")
	}
	if v := version("k"); v != 3 {
		t.Errorf("after a refresh: version %d, want 3", v)
	}

	d.Delete("k")
	if v := version("k"); v != -1 {
		t.Errorf("after Delete: version %d served", v)
	}

	tagged := versionEntry(4, kib)
	tagged.SurrogateKeys = []string{"t"}
	d.Set("k", tagged, time.Hour)
	version("k")
	d.DeleteTag("t", nil)
	if v := version("k"); v != -1 {
		t.Errorf("after DeleteTag: version %d served", v)
	}

	d.Set("k", versionEntry(5, kib), time.Minute)
	version("k")
	clk.Advance(2 * time.Minute)
	if v := version("k"); v != -1 {
		t.Errorf("after its ttl: version %d served", v)
	}

	d.Set("k", versionEntry(6, kib), time.Hour)
	path := pathOf(t, d, "k")
	if err := os.Truncate(path, 10); err != nil {
		t.Fatal(err)
	}
	e, _ = d.Get("k")
	if _, err := e.File.Open(); !errors.Is(err, errCorrupt) {
		t.Fatalf("Open of a truncated body: %v", err)
	}
	if v := version("k"); v != -1 {
		t.Errorf("after a corrupt body: version %d served", v)
	}

	d.Set("k", versionEntry(7, kib), time.Hour)
	version("k")
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = openTestDisk(t, DiskConfig{Dir: dir, Now: clk.Now})
	if v := version("k"); v != 7 {
		t.Errorf("after a restart: version %d, want 7", v)
	}
	if got := metricValue(t, d, "tern_store_disk_index_cache_misses_total"); got != 1 {
		t.Errorf("after a restart: %v index reads, want 1", got)
	}
}

// The index cache holds no more than its bound, and a Get that read the
// index before a change committed cannot put the old record back.
func TestDiskIndexCacheBound(t *testing.T) {
	d := openTestDisk(t, DiskConfig{IndexCacheBytes: 8 * kib})
	for i := range 100 {
		k := fmt.Sprintf("k%d", i)
		d.Set(k, versionEntry(i, 100), time.Hour)
		d.Get(k)
		if _, b := d.metas.stats(); b > 8*kib {
			t.Fatalf("after %d keys the index cache holds %d bytes, bound %d", i+1, b, 8*kib)
		}
	}
	if n, _ := d.metas.stats(); n == 0 || n >= 100 {
		t.Errorf("index cache holds %d records", n)
	}

	// A copy read at a generation older than a drop is not added.
	cm, gen := d.metas.get("fresh")
	if cm != nil {
		t.Fatal("an unknown key is cached")
	}
	d.Set("other", versionEntry(0, 100), time.Hour) // a drop
	d.metas.add(&cachedMeta{key: "fresh", cost: 1}, gen)
	if cm, _ := d.metas.get("fresh"); cm != nil {
		t.Error("a copy read before a drop was added after it")
	}

	d0 := openTestDisk(t, DiskConfig{IndexCacheBytes: -1})
	d0.Set("k", versionEntry(0, 100), time.Hour)
	d0.Get("k")
	if n, _ := d0.metas.stats(); n != 0 {
		t.Errorf("IndexCacheBytes -1: %d records cached", n)
	}
}

// TestIndexCacheCostCoversHeap caches many records of a typical response
// and checks that what they make the Go heap grow by is no more than the
// bytes the index cache counts for them: IndexCacheBytes bounds its real
// memory.
func TestIndexCacheCostCoversHeap(t *testing.T) {
	const n = 1_000
	d := openTestDisk(t, DiskConfig{IndexCacheBytes: 1 << 30})
	d.db.NoSync = true // the index's durability is not what this measures
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("https://www.cdn.test/app.css?v=%d", i)
		if !d.Set(keys[i], parsedEntry(t, 100), time.Hour) {
			t.Fatalf("Set %d refused", i)
		}
	}
	before := liveHeap()
	for _, k := range keys {
		if _, ok := d.Get(k); !ok {
			t.Fatalf("Get(%s) missed", k)
		}
	}
	grown := liveHeap() - before
	records, counted := d.metas.stats()
	if records != n {
		t.Fatalf("index cache holds %d records, want %d", records, n)
	}
	t.Logf("%d records: heap grew by %d bytes (%.0f each), the cache counts %d (%.0f each)",
		n, grown, float64(grown)/n, counted, float64(counted)/n)
	if grown > counted {
		t.Errorf("the heap grew by %d bytes, more than the %d the index cache counts", grown, counted)
	}
}
