package store

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// smallFS makes body writes fail as a full filesystem does (half written,
// then ENOSPC) once the files under dir would take more than capacity
// bytes.
type smallFS struct {
	dir      string
	capacity int64
}

func (s *smallFS) write(f *os.File, b []byte) (int, error) {
	var used int64
	filepath.WalkDir(s.dir, func(_ string, de fs.DirEntry, err error) error {
		if err == nil && de.Type().IsRegular() && de.Name() != "index.db" {
			if info, err := de.Info(); err == nil {
				used += info.Size()
			}
		}
		return nil // a file removed meanwhile is not counted
	})
	if used+int64(len(b)) > s.capacity {
		n, _ := f.Write(b[:len(b)/2])
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	return f.Write(b)
}

// checkFullFilesystem checks a cache that was sent keys (in order, with
// bodies) on a filesystem that holds far less than budget: the budget in
// effect was lowered once, with a warning; the oldest entries were evicted;
// the newest are whole.
func checkFullFilesystem(t *testing.T, d *Disk, logs *logBuf, keys []string, bodies map[string][]byte, budget int64) {
	t.Helper()
	if n := metricValue(t, d, "tern_store_disk_writes_total", "result", writeENOSPC); n < 1 {
		t.Errorf("tern_store_disk_writes_total{result=enospc} = %v, want at least 1", n)
	}
	eff := metricValue(t, d, "tern_store_disk_effective_capacity_bytes")
	if eff >= float64(budget) || eff != float64(d.EffectiveBytes()) {
		t.Errorf("tern_store_disk_effective_capacity_bytes = %v, EffectiveBytes() = %d; want one value below the budget %d", eff, d.EffectiveBytes(), budget)
	}
	if got := metricValue(t, d, "tern_store_disk_capacity_bytes"); got != float64(budget) {
		t.Errorf("tern_store_disk_capacity_bytes = %v, want the configured %d", got, budget)
	}
	if d.Bytes() > d.EffectiveBytes() {
		t.Errorf("Bytes() = %d over the effective budget %d", d.Bytes(), d.EffectiveBytes())
	}
	if n := metricValue(t, d, "tern_store_disk_evictions_total"); n < 1 {
		t.Errorf("tern_store_disk_evictions_total = %v: nothing evicted", n)
	}
	if n := strings.Count(logs.String(), "lowering the budget"); n != 1 {
		t.Errorf("%d warnings about the lowered budget, want 1; log:\n%s", n, logs.String())
	}
	if _, ok := d.Get(keys[0]); ok {
		t.Errorf("the oldest entry %s is still stored", keys[0])
	}
	for _, k := range keys[len(keys)-3:] {
		e, ok := d.Get(k)
		if !ok || !bytes.Equal(readBody(t, e), bodies[k]) {
			t.Errorf("%s, among the newest, lost or damaged", k)
		}
	}
	if d.Objects() >= int64(len(keys)) {
		t.Errorf("Objects() = %d after %d Sets on a filesystem too small for them", d.Objects(), len(keys))
	}
}

// TestDiskFullFilesystemEvicts is issue 11 item 11 on a simulated 256 KiB
// filesystem under a 1 GiB budget: once full, the cache used to fail every
// write (ENOSPC) and evict nothing, since it was far within its budget.
func TestDiskFullFilesystemEvicts(t *testing.T) {
	dir := t.TempDir()
	sfs := &smallFS{dir: dir, capacity: 256 * kib}
	tun := testTuning
	tun.write = sfs.write
	var logs logBuf
	const budget = 1 << 30
	d := openTestDisk(t, DiskConfig{Dir: dir, MaxBytes: budget, Logger: logs.logger()}, tun)
	rng := rand.New(rand.NewPCG(7, 8))
	var keys []string
	bodies := map[string][]byte{}
	for i := range 64 {
		k := fmt.Sprintf("k%02d", i)
		body := randomBody(rng, 16*kib)
		if !d.Set(k, &httpcache.Entry{Status: 200, Body: body}, time.Hour) {
			t.Errorf("Set(%s) refused: the full filesystem wedged the cache", k)
		}
		keys, bodies[k] = append(keys, k), body
	}
	checkFullFilesystem(t, d, &logs, keys, bodies, budget)
	if n := metricValue(t, d, "tern_store_disk_writes_total", "result", writeOK); n != 64 {
		t.Errorf("tern_store_disk_writes_total{result=ok} = %v, want 64", n)
	}
	if _, size := bodyFiles(t, d); size > sfs.capacity {
		t.Errorf("%d bytes of body files on a filesystem of %d", size, sfs.capacity)
	}
}

// TestDiskFullFilesystemObjectTooLarge: a write larger than what the
// filesystem turned out to hold for the cache fails, and evicts nothing
// for it; a write that fits succeeds after it.
func TestDiskFullFilesystemObjectTooLarge(t *testing.T) {
	dir := t.TempDir()
	sfs := &smallFS{dir: dir, capacity: 64 * kib}
	tun := testTuning
	tun.write = sfs.write
	var logs logBuf
	d := openTestDisk(t, DiskConfig{Dir: dir, MaxBytes: 1 << 30, Logger: logs.logger()}, tun)
	for i := range 3 {
		if !d.Set(fmt.Sprintf("k%d", i), bodyEntry(16*kib), time.Hour) {
			t.Fatalf("Set(k%d) refused on a filesystem with room", i)
		}
	}
	if d.Set("big", bodyEntry(128*kib), time.Hour) {
		t.Fatal("a body twice the filesystem's size was stored")
	}
	if d.Objects() != 3 || d.EffectiveBytes() != d.Bytes() {
		t.Errorf("after the refused write: Objects() = %d, EffectiveBytes() = %d, Bytes() = %d; want 3 kept and the budget at what they take",
			d.Objects(), d.EffectiveBytes(), d.Bytes())
	}
	if !d.Set("k3", bodyEntry(16*kib), time.Hour) {
		t.Fatal("a write that fits the effective budget was refused")
	}
	if _, ok := d.Get("k0"); ok || d.Objects() != 3 {
		t.Errorf("k0 stored: %v, Objects() = %d; want the oldest evicted for k3", ok, d.Objects())
	}
}
