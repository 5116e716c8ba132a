package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tern-cdn/tern/edge/httpcache"
	"github.com/tern-cdn/tern/internal/testkit"
)

// testTuning records every hit and flushes only when a test asks.
var testTuning = diskTuning{
	touchEvery: 0,
	flushEvery: time.Hour,
	maxPending: 1 << 16,
	write:      (*os.File).Write,
}

// newClock returns a settable clock showing t0.
func newClock() *testkit.Clock {
	c := testkit.NewClock()
	c.Set(t0)
	return c
}

// logBuf collects a logger's output.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuf) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// openTestDisk opens a Disk with testTuning (or tun), in a new folder
// unless cfg names one, closed when the test ends; it waits for the
// start-up sweep.
func openTestDisk(t testing.TB, cfg DiskConfig, tun ...diskTuning) *Disk {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = 64 * mib
	}
	tu := testTuning
	if len(tun) > 0 {
		tu = tun[0]
	}
	d, err := openDisk(cfg, tu)
	if err != nil {
		t.Fatalf("OpenDisk(%s): %v", cfg.Dir, err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	waitSwept(t, d)
	return d
}

func waitSwept(t testing.TB, d *Disk) {
	t.Helper()
	select {
	case <-d.swept:
	case <-time.After(30 * time.Second):
		t.Fatal("start-up sweep still running after 30s")
	}
}

// crash stops d as a killed process would: no flush, no clean mark.
func crash(t testing.TB, d *Disk) {
	t.Helper()
	d.closed.Store(true)
	d.cancel()
	d.wg.Wait()
	d.met.unregister()
	d.fds.close() // as the kernel does at exit
	if err := d.db.Close(); err != nil {
		t.Fatalf("closing the index: %v", err)
	}
}

// readBody reads e's body through its File, as the edge does.
func readBody(t *testing.T, e *httpcache.Entry) []byte {
	t.Helper()
	if e.File == nil {
		if e.Body != nil {
			t.Fatalf("disk entry has a Body of %d bytes", len(e.Body))
		}
		return nil
	}
	f, err := e.File.Open()
	if err != nil {
		t.Fatalf("File.Open: %v", err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	if int64(len(b)) != e.File.Size() {
		t.Errorf("read %d bytes, File.Size() = %d", len(b), e.File.Size())
	}
	return b
}

// randomBody is n bytes that differ from entry to entry.
func randomBody(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// sameAsStored is the Store contract's "the entry that was set", for a
// store that cannot return the same pointer: same metadata, same body.
func sameAsStored(t *testing.T, got, want *httpcache.Entry) bool {
	if !reflect.DeepEqual(metaOf(got), metaOf(want)) {
		return false
	}
	if got.File == nil {
		return len(want.Body) == 0
	}
	f, err := got.File.Open()
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) { // replaced since the Get
			t.Errorf("File.Open: %v", err)
		}
		return false
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	return err == nil && bytes.Equal(b, want.Body)
}

// identityStore lets testStore, which compares entries by pointer, check
// a Disk: a Get whose entry is the same as the last one Set under its key
// returns that pointer, anything else returns what the Disk returned.
type identityStore struct {
	t   *testing.T
	d   *Disk
	mu  sync.Mutex
	set map[string]*httpcache.Entry
}

func (s *identityStore) Get(key string) (*httpcache.Entry, bool) {
	got, ok := s.d.Get(key)
	if !ok {
		return got, ok
	}
	s.mu.Lock()
	want := s.set[key]
	s.mu.Unlock()
	if want != nil && sameAsStored(s.t, got, want) {
		return want, true
	}
	return got, true
}

func (s *identityStore) Set(key string, e *httpcache.Entry, ttl time.Duration) bool {
	ok := s.d.Set(key, e, ttl)
	s.mu.Lock()
	if ok {
		s.set[key] = e
	} else {
		delete(s.set, key)
	}
	s.mu.Unlock()
	return ok
}

func (s *identityStore) Delete(key string) { s.d.Delete(key) }

func TestDiskStore(t *testing.T) {
	d := openTestDisk(t, DiskConfig{})
	testStore(t, &identityStore{t: t, d: d, set: make(map[string]*httpcache.Entry)})
}

func TestOpenDiskInvalidConfig(t *testing.T) {
	for _, cfg := range []DiskConfig{
		{MaxBytes: mib},
		{Dir: t.TempDir(), MaxBytes: 0},
		{Dir: t.TempDir(), MaxBytes: -1},
	} {
		d, err := OpenDisk(cfg)
		if err == nil {
			d.Close()
			t.Errorf("OpenDisk(%+v) succeeded", cfg)
			continue
		}
		if !strings.HasPrefix(err.Error(), "store: ") {
			t.Errorf("OpenDisk(%+v) error %q lacks the package prefix", cfg, err)
		}
	}
}

func TestDiskRoundTrip(t *testing.T) {
	d := openTestDisk(t, DiskConfig{})
	body := randomBody(rand.New(rand.NewPCG(1, 2)), 100*kib+7)
	e := fullEntry(body)
	if !d.Set("https://example.com/app.css", e, time.Hour) {
		t.Fatal("Set refused the entry")
	}
	got, ok := d.Get("https://example.com/app.css")
	if !ok {
		t.Fatal("Get after Set missed")
	}
	if got.Body != nil || got.File == nil {
		t.Fatalf("Get: Body %d bytes, File %v; want no Body and a File", len(got.Body), got.File)
	}
	if got.File.Size() != int64(len(body)) || got.BodySize() != int64(len(body)) {
		t.Errorf("File.Size() = %d, BodySize() = %d; want %d", got.File.Size(), got.BodySize(), len(body))
	}
	if !reflect.DeepEqual(metaOf(got), metaOf(e)) {
		t.Errorf("metadata:\n got %+v\nwant %+v", metaOf(got), metaOf(e))
	}
	// Twice: the first Open checks the CRC, the second trusts it; both
	// hand over the file at offset 0.
	for i := range 2 {
		if b := readBody(t, got); !bytes.Equal(b, body) {
			t.Errorf("open %d: body differs (%d bytes, want %d)", i, len(b), len(body))
		}
	}
	if e.Body == nil || e.File != nil {
		t.Error("Set changed the entry it stored")
	}

	empty := &httpcache.Entry{Status: 204, Header: http.Header{"X": {"y"}}}
	if !d.Set("empty", empty, time.Hour) {
		t.Fatal("Set refused an entry without a body")
	}
	got, ok = d.Get("empty")
	if !ok || got.File != nil || got.Body != nil || !reflect.DeepEqual(metaOf(got), metaOf(empty)) {
		t.Errorf("Get(empty) = %+v, %v; want %+v", got, ok, empty)
	}
}

func TestDiskPersistence(t *testing.T) {
	dir, clk := t.TempDir(), newClock()
	cfg := DiskConfig{Dir: dir, MaxBytes: 8 * mib, Now: clk.Now}
	rng := rand.New(rand.NewPCG(3, 4))
	entries := map[string]*httpcache.Entry{
		"full":    fullEntry(randomBody(rng, 3000)),
		"small":   bodyEntry(1),
		"nobody":  {Status: 301, Header: http.Header{"Location": {"/x"}}, ResponseTime: t0, Lifetime: time.Minute},
		"oneByte": fullEntry([]byte{42}),
	}
	d1, err := openDisk(cfg, testTuning)
	if err != nil {
		t.Fatal(err)
	}
	for k, e := range entries {
		if !d1.Set(k, e, time.Hour) {
			t.Fatalf("Set(%s) refused", k)
		}
	}
	now := t0.Add(10 * time.Minute)
	bytes1, objects1 := d1.Bytes(), d1.Objects()
	if err := d1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	clk.Advance(time.Minute)
	d2 := openTestDisk(t, cfg)
	if d2.Bytes() != bytes1 || d2.Objects() != objects1 {
		t.Errorf("after reopening: Bytes() = %d, Objects() = %d; want %d, %d", d2.Bytes(), d2.Objects(), bytes1, objects1)
	}
	if d2.epoch <= d1.epoch {
		t.Errorf("epoch %d after %d", d2.epoch, d1.epoch)
	}
	for k, e := range entries {
		got, ok := d2.Get(k)
		if !ok {
			t.Errorf("Get(%s) after reopening missed", k)
			continue
		}
		if !reflect.DeepEqual(metaOf(got), metaOf(e)) {
			t.Errorf("%s: metadata after reopening:\n got %+v\nwant %+v", k, metaOf(got), metaOf(e))
		}
		if a, b := e.Age(now), got.Age(now); a != b {
			t.Errorf("%s: Age after reopening = %v, want %v", k, b, a)
		}
		if b := readBody(t, got); !bytes.Equal(b, e.Body) {
			t.Errorf("%s: body after reopening differs", k)
		}
	}
	// The ttl survives too.
	clk.Advance(time.Hour)
	if _, ok := d2.Get("full"); ok {
		t.Error("entry served after its ttl, counted across the restart")
	}
}

func TestDiskDeleteRemovesFile(t *testing.T) {
	d := openTestDisk(t, DiskConfig{})
	d.Set("k", bodyEntry(5000), time.Hour)
	e, _ := d.Get("k")
	path := bodyPath(d.bodies, "k", e.File.(*diskBody).id)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("body file: %v", err)
	}
	// A reader that has the file open keeps it.
	f, err := e.File.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d.Delete("k")
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("body file after Delete: %v", err)
	}
	if n, err := io.Copy(io.Discard, f); n != 5000 || err != nil {
		t.Errorf("reading an open file after Delete: %d, %v", n, err)
	}
	if d.Bytes() != 0 || d.Objects() != 0 {
		t.Errorf("after Delete: Bytes() = %d, Objects() = %d", d.Bytes(), d.Objects())
	}
	// The Get from before the Delete now fails to open, as a miss would.
	if _, err := e.File.Open(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open after Delete: %v, want not exist", err)
	}
}

func TestDiskRefuses(t *testing.T) {
	d := openTestDisk(t, DiskConfig{MaxBytes: 64 * kib})
	big := bodyEntry(64 * kib) // plus its record: over budget
	if d.Set("big", big, time.Hour) {
		t.Error("Set admitted an entry larger than MaxBytes")
	}
	withFile := bodyEntry(0)
	withFile.File = &diskBody{}
	memOnly := bodyEntry(10)
	memOnly.Tier = httpcache.TierMemory
	for name, e := range map[string]*httpcache.Entry{"nil": nil, "file": withFile, "memory tier": memOnly} {
		if d.Set(name, e, time.Hour) {
			t.Errorf("Set admitted the %s entry", name)
		}
	}
	if d.Set("", bodyEntry(1), time.Hour) {
		t.Error("Set admitted an empty key")
	}
	if d.Bytes() != 0 || d.Objects() != 0 {
		t.Errorf("after refusals: Bytes() = %d, Objects() = %d", d.Bytes(), d.Objects())
	}
	// An entry of exactly MaxBytes fits.
	fits := bodyEntry(0)
	v := (&record{meta: encodeEntry(nil, fits)}).append(nil)
	fits.Body = make([]byte, 64*kib-objectCost("fits", len(v), 0))
	if !d.Set("fits", fits, time.Hour) {
		t.Error("Set refused an entry of exactly MaxBytes")
	}
	if d.Bytes() != d.MaxBytes() {
		t.Errorf("Bytes() = %d, want %d", d.Bytes(), d.MaxBytes())
	}
}

func TestDiskExpiry(t *testing.T) {
	clk := newClock()
	d := openTestDisk(t, DiskConfig{Now: clk.Now})
	d.Set("short", bodyEntry(100), time.Minute)
	d.Set("long", bodyEntry(100), time.Hour)
	clk.Advance(time.Minute - time.Nanosecond)
	if _, ok := d.Get("short"); !ok {
		t.Fatal("entry gone before its ttl")
	}
	clk.Advance(time.Nanosecond)
	if _, ok := d.Get("short"); ok {
		t.Fatal("entry served at the end of its ttl")
	}
	d.flush()
	if d.Objects() != 1 {
		t.Errorf("Objects() = %d after the expired entry was flushed, want 1", d.Objects())
	}
	if _, ok := d.Get("long"); !ok {
		t.Error("the entry with a long ttl is gone")
	}
}

// entryCost is what e costs under key.
func entryCost(key string, e *httpcache.Entry) int64 {
	v := (&record{meta: encodeEntry(nil, e)}).append(nil)
	return objectCost(key, len(v), int64(len(e.Body)))
}

func TestDiskEvictsLeastRecentlyUsed(t *testing.T) {
	clk := newClock()
	reg := prometheus.NewRegistry()
	e := bodyEntry(10 * kib)
	cost := entryCost("k0", e)
	d := openTestDisk(t, DiskConfig{MaxBytes: 4*cost + cost/2, Now: clk.Now, Registerer: reg})
	for i := range 4 {
		if !d.Set(fmt.Sprintf("k%d", i), bodyEntry(10*kib), time.Hour) {
			t.Fatalf("Set(k%d) refused", i)
		}
		clk.Advance(time.Second)
	}
	// Hits are kept in memory: no index write per hit.
	commits := d.commits.Load()
	for range 10 {
		if _, ok := d.Get("k0"); !ok {
			t.Fatal("Get(k0) missed")
		}
	}
	if n := d.commits.Load() - commits; n != 0 {
		t.Errorf("10 hits made %d index writes, want 0", n)
	}
	clk.Advance(time.Second)
	d.Set("k4", bodyEntry(10*kib), time.Hour)
	for k, want := range map[string]bool{"k0": true, "k1": false, "k2": true, "k3": true, "k4": true} {
		if _, ok := d.Get(k); ok != want {
			t.Errorf("after evicting one of five: Get(%s) = %v, want %v", k, ok, want)
		}
	}
	if n := metricValue(t, d, "tern_store_disk_evictions_total"); n != 1 {
		t.Errorf("tern_store_disk_evictions_total = %v, want 1", n)
	}
	if d.Bytes() != 4*cost || d.Objects() != 4 {
		t.Errorf("Bytes() = %d, Objects() = %d; want %d, 4", d.Bytes(), d.Objects(), 4*cost)
	}
	if got := metricValue(t, d, "tern_store_disk_bytes"); got != float64(d.Bytes()) {
		t.Errorf("tern_store_disk_bytes = %v, want %d", got, d.Bytes())
	}
}

// metricValue sums the samples of a metric of d whose labels include the
// given name/value pairs; 0 when there are none.
func metricValue(t *testing.T, d *Disk, name string, labels ...string) float64 {
	t.Helper()
	return testkit.Sum(t, gatherer(t, d), name, labels...)
}

// gatherer is the registry d's metrics are registered with.
func gatherer(t *testing.T, d *Disk) prometheus.Gatherer {
	t.Helper()
	g, ok := d.met.reg.(prometheus.Gatherer)
	if !ok {
		t.Fatalf("registerer %T cannot gather", d.met.reg)
	}
	return g
}

// Recency survives a restart: the hits flushed at Close order eviction
// after it.
func TestDiskRecencyPersists(t *testing.T) {
	dir, clk := t.TempDir(), newClock()
	cost := entryCost("k0", bodyEntry(kib))
	cfg := DiskConfig{Dir: dir, MaxBytes: 3*cost + cost/2, Now: clk.Now}
	d, err := openDisk(cfg, testTuning)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		d.Set(fmt.Sprintf("k%d", i), bodyEntry(kib), time.Hour)
		clk.Advance(time.Second)
	}
	d.Get("k0")
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = openTestDisk(t, cfg)
	clk.Advance(time.Second)
	d.Set("k3", bodyEntry(kib), time.Hour)
	if _, ok := d.Get("k0"); !ok {
		t.Error("the entry hit before the restart was evicted")
	}
	if _, ok := d.Get("k1"); ok {
		t.Error("the least recently used entry survived")
	}
}

// TestDiskByteBound writes ten times the budget from four goroutines and
// checks the bound by the store's count, by what Get returns and by the
// files on disk.
func TestDiskByteBound(t *testing.T) {
	const maxBytes = mib
	d := openTestDisk(t, DiskConfig{MaxBytes: maxBytes})
	const writers, perWriter = 4, 10 * maxBytes / 4
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		keys []string
	)
	for g := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for written, i := 0, 0; written < perWriter; i++ {
				n := kib + rng.IntN(63*kib+1)
				k := fmt.Sprintf("w%d/%d", g, i)
				d.Set(k, bodyEntry(n), time.Hour)
				written += n
				mu.Lock()
				keys = append(keys, k)
				mu.Unlock()
				if b := d.Bytes(); b > d.MaxBytes() {
					t.Errorf("after Set(%s): Bytes() = %d > MaxBytes() = %d", k, b, d.MaxBytes())
					return
				}
			}
		})
	}
	wg.Wait()

	var n int
	var cost, body int64
	for _, k := range keys {
		if e, ok := d.Get(k); ok {
			n++
			body += e.BodySize()
			cost += entryCost(k, &httpcache.Entry{Status: e.Status, Header: e.Header, Body: make([]byte, e.BodySize())})
		}
	}
	files, onDisk := bodyFiles(t, d)
	t.Logf("wrote %d entries; %d retrievable, %d body bytes, cost %d; %d files, %d bytes on disk; Bytes() = %d",
		len(keys), n, body, cost, files, onDisk, d.Bytes())
	if cost != d.Bytes() || int64(n) != d.Objects() {
		t.Errorf("retrievable: %d entries costing %d; Objects() = %d, Bytes() = %d", n, cost, d.Objects(), d.Bytes())
	}
	if cost > maxBytes {
		t.Errorf("retrievable entries cost %d > MaxBytes %d", cost, maxBytes)
	}
	if onDisk > maxBytes || onDisk != body {
		t.Errorf("body files hold %d bytes; retrievable bodies %d, MaxBytes %d", onDisk, body, maxBytes)
	}
	if int64(files) != d.Objects() {
		t.Errorf("%d body files for %d objects", files, d.Objects())
	}
	if n == 0 {
		t.Error("nothing retrievable")
	}
}

// bodyFiles counts the body files under d and their bytes.
func bodyFiles(t *testing.T, d *Disk) (n int, size int64) {
	t.Helper()
	err := filepath.WalkDir(d.bodies, func(path string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		fi, err := de.Info()
		if err != nil {
			return err
		}
		n++
		size += fi.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, size
}

// A Get racing a Set of the same key sees the old entry or the new one,
// whole, never a mix: every body is one byte repeated, with its length in
// the header.
func TestDiskConcurrentSetGet(t *testing.T) {
	d := openTestDisk(t, DiskConfig{MaxBytes: 4 * mib})
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		for i := range 200 {
			n := 1 + (i*7919)%(64*kib)
			e := &httpcache.Entry{Status: 200, Header: http.Header{"Fill": {fmt.Sprint(i % 256)}, "Len": {fmt.Sprint(n)}},
				Body: bytes.Repeat([]byte{byte(i)}, n)}
			if !d.Set("k", e, time.Hour) {
				t.Errorf("Set %d refused", i)
			}
		}
	})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				e, ok := d.Get("k")
				if !ok {
					continue
				}
				f, err := e.File.Open()
				if errors.Is(err, fs.ErrNotExist) {
					continue // replaced between Get and Open
				}
				if err != nil {
					t.Errorf("Open: %v", err)
					return
				}
				b, err := io.ReadAll(f)
				f.Close()
				want := bytes.Repeat([]byte{b0(e.Header.Get("Fill"))}, atoi(e.Header.Get("Len")))
				if err != nil || !bytes.Equal(b, want) {
					t.Errorf("torn body: %d bytes (err %v), want %d of %q", len(b), err, len(want), e.Header.Get("Fill"))
					return
				}
			}
		})
	}
	wg.Wait()
	if n := metricValue(t, d, "tern_store_disk_corrupt_total"); n != 0 {
		t.Errorf("tern_store_disk_corrupt_total = %v", n)
	}
}

func b0(s string) byte { return byte(atoi(s)) }

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

// TestOpenDiskLocked: a second process (here, a second open) cannot share
// the folder.
func TestOpenDiskLocked(t *testing.T) {
	d := openTestDisk(t, DiskConfig{})
	d2, err := OpenDisk(DiskConfig{Dir: d.dir, MaxBytes: mib})
	if err == nil {
		d2.Close()
		t.Fatal("a second OpenDisk of an open folder succeeded")
	}
	if !strings.Contains(err.Error(), d.dir) {
		t.Errorf("error %q does not name the folder", err)
	}
}

// Metrics go away with Close, so a reopened Disk can register again.
func TestDiskMetricsReopen(t *testing.T) {
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	d, err := OpenDisk(DiskConfig{Dir: dir, MaxBytes: mib, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	d.Set("a", bodyEntry(10), time.Hour)
	if _, err := OpenDisk(DiskConfig{Dir: t.TempDir(), MaxBytes: mib, Registerer: reg}); err == nil {
		t.Error("two Disks registered the same metrics")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = openTestDisk(t, DiskConfig{Dir: dir, MaxBytes: mib, Registerer: reg})
	for name, want := range map[string]float64{
		"tern_store_disk_objects":        1,
		"tern_store_disk_capacity_bytes": mib,
	} {
		if got := metricValue(t, d, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if n := testkit.Count(t, gatherer(t, d), "tern_store_disk_writes_total"); n != 3 {
		t.Errorf("tern_store_disk_writes_total has %d series, want ok, error and enospc", n)
	}
}
