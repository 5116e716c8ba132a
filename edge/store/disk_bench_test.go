package store

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// benchKeys are the keys of a built cache, object i under benchKeys(n)[i].
func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("https://static.example.com/assets/%08d.js", i)
	}
	return keys
}

// buildDisk fills dir with an object of size bytes under every key, the
// way Set leaves them, but fast: body files without fsync, records in
// transactions of 50,000 without fsync.
func buildDisk(b *testing.B, dir string, keys []string, size int) (stamp time.Time) {
	b.Helper()
	start := time.Now()
	stamp = start.Round(0)
	d, err := openDisk(DiskConfig{Dir: dir, MaxBytes: 1 << 40}, defaultTuning)
	if err != nil {
		b.Fatal(err)
	}
	waitSwept(b, d)
	d.db.NoSync = true
	body := randomBody(rand.New(rand.NewPCG(1, 1)), size)
	e := &httpcache.Entry{
		Status:       http.StatusOK,
		Header:       http.Header{"Content-Type": {"text/javascript"}, "Cache-Control": {"public, max-age=86400"}, "Etag": {`"5f3a-9c1"`}},
		ResponseTime: time.Now().Round(0),
		Lifetime:     24 * time.Hour,
		ETag:         `"5f3a-9c1"`,
	}
	meta := encodeEntry(nil, e)
	crc := crc32.Checksum(body, castagnoli)
	now := stamp.UnixNano()
	const batch = 50_000
	for lo := 0; lo < len(keys); lo += batch {
		hi := min(lo+batch, len(keys))
		recs := make([]record, 0, hi-lo)
		for _, k := range keys[lo:hi] {
			r := record{stamp: now, expiry: now + int64(240*time.Hour), size: int64(size), crc: crc,
				id: fileID{d.epoch, d.seq.Add(1)}, meta: meta}
			if size > 0 {
				if err := os.WriteFile(bodyPath(d.bodies, k, r.id), body, 0o644); err != nil {
					b.Fatal(err)
				}
			}
			recs = append(recs, r)
		}
		_, err := d.update(func(x *indexTx) error {
			for i, k := range keys[lo:hi] {
				if err := x.put(k, recs[i].append(nil), recs[i]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	d.db.NoSync = false
	if err := d.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d objects of %d bytes in %v", len(keys), size, time.Since(start).Round(time.Millisecond))
	return stamp
}

// skip1M skips the million-object benchmarks in -short mode.
func skip1M(b *testing.B, n int) {
	if n >= 1_000_000 && testing.Short() {
		b.Skip("1M objects: not in -short mode")
	}
}

// BenchmarkDiskGet looks up keys of a cache holding n objects: index
// lookup, record decoding and the recency check, without opening the
// body. uniform draws every key alike, the worst case for the CPU caches
// (the index of 1M objects is ~300 MB); zipf draws them as a CDN sees
// them (s = 1.1, hot keys scattered over the key space). Both run with the
// clock stopped at the build, so no hit is old enough to be recorded;
// uniform-recorded records every hit, and includes the batched index
// writes that follow (5 s or 64 Ki hits apart).
func BenchmarkDiskGet(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			skip1M(b, n)
			dir := b.TempDir()
			keys := benchKeys(n)
			built := buildDisk(b, dir, keys, 512)
			rng := rand.New(rand.NewPCG(2, 2))
			perm := rng.Perm(n)
			zipf := rand.NewZipf(rng, 1.1, 1, uint64(n-1))
			for _, c := range []struct {
				name string
				next func() string
				tun  diskTuning
			}{
				{"uniform", func() string { return keys[rng.IntN(n)] }, defaultTuning},
				{"zipf", func() string { return keys[perm[zipf.Uint64()]] }, defaultTuning},
				{"uniform-recorded", func() string { return keys[rng.IntN(n)] }, recordAll},
			} {
				b.Run(c.name, func(b *testing.B) {
					now := func() time.Time { return built }
					if c.tun.touchEvery == 0 {
						now = time.Now
					}
					d := openTestDisk(b, DiskConfig{Dir: dir, MaxBytes: 1 << 40, Now: now}, c.tun)
					b.ReportAllocs()
					for b.Loop() {
						if _, ok := d.Get(c.next()); !ok {
							b.Fatal("miss")
						}
					}
					b.StopTimer()
					d.Close() // its flush is not the benchmark's
				})
			}
		})
	}
}

// recordAll is the default tuning, but every hit is recorded.
var recordAll = func() diskTuning { t := defaultTuning; t.touchEvery = 0; return t }()

// BenchmarkOpenDisk1M opens (and closes) a cache holding a million small
// objects. The start-up sweep runs in the background and is reported
// apart, as sweep-s: the time from OpenDisk until it has listed every body
// folder; unclean-sweep-s is the same after a crash, when it also stats
// every body file.
func BenchmarkOpenDisk1M(b *testing.B) {
	const n = 1_000_000
	skip1M(b, n)
	dir := b.TempDir()
	buildDisk(b, dir, benchKeys(n), 256)

	var sweep time.Duration
	{
		start := time.Now()
		d, err := OpenDisk(DiskConfig{Dir: dir, MaxBytes: 1 << 40})
		if err != nil {
			b.Fatal(err)
		}
		waitSwept(b, d)
		sweep = time.Since(start)
		if d.Objects() != n {
			b.Fatalf("Objects() = %d after the sweep, want %d", d.Objects(), n)
		}
		d.Close()
	}
	// After an unclean stop the sweep also stats every body file.
	var uncleanSweep time.Duration
	{
		d, err := openDisk(DiskConfig{Dir: dir, MaxBytes: 1 << 40}, defaultTuning)
		if err != nil {
			b.Fatal(err)
		}
		waitSwept(b, d)
		crash(b, d)
		start := time.Now()
		d, err = OpenDisk(DiskConfig{Dir: dir, MaxBytes: 1 << 40})
		if err != nil {
			b.Fatal(err)
		}
		waitSwept(b, d)
		uncleanSweep = time.Since(start)
		if d.Objects() != n {
			b.Fatalf("Objects() = %d after the unclean sweep, want %d", d.Objects(), n)
		}
		d.Close()
	}
	for b.Loop() {
		d, err := OpenDisk(DiskConfig{Dir: dir, MaxBytes: 1 << 40})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if d.Objects() != n {
			b.Fatalf("Objects() = %d, want %d", d.Objects(), n)
		}
		d.Close()
		b.StartTimer()
	}
	b.ReportMetric(sweep.Seconds(), "sweep-s")
	b.ReportMetric(uncleanSweep.Seconds(), "unclean-sweep-s")
}

const hitKey = "https://static.example.com/video/intro.mp4"

// BenchmarkDiskHit1MiB is a disk hit as the edge serves it: Get, Open
// (CRC checked on the first only), copy the body out.
func BenchmarkDiskHit1MiB(b *testing.B) {
	d := openTestDisk(b, DiskConfig{MaxBytes: 64 * mib}, defaultTuning)
	if !d.Set(hitKey, &httpcache.Entry{Status: 200, Body: randomBody(rand.New(rand.NewPCG(3, 3)), mib)}, time.Hour) {
		b.Fatal("Set refused")
	}
	b.SetBytes(mib)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		e, ok := d.Get(hitKey)
		if !ok {
			b.Fatal("miss")
		}
		f, err := e.File.Open()
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, f); n != mib || err != nil {
			b.Fatalf("copied %d, %v", n, err)
		}
		f.Close()
	}
}

// BenchmarkMemoryHit1MiB is the same hit from the memory tier.
func BenchmarkMemoryHit1MiB(b *testing.B) {
	m, err := NewMemory(64 * mib)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	if !m.Set(hitKey, &httpcache.Entry{Status: 200, Body: randomBody(rand.New(rand.NewPCG(3, 3)), mib)}, time.Hour) {
		b.Fatal("Set refused")
	}
	b.SetBytes(mib)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		e, ok := m.Get(hitKey)
		if !ok {
			b.Fatal("miss")
		}
		if n, err := io.Copy(io.Discard, bytes.NewReader(e.Body)); n != mib || err != nil {
			b.Fatalf("copied %d, %v", n, err)
		}
	}
}
