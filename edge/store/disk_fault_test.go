package store

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// pathOf is where the body of key's current entry lives.
func pathOf(t *testing.T, d *Disk, key string) string {
	t.Helper()
	e, ok := d.Get(key)
	if !ok || e.File == nil {
		t.Fatalf("Get(%s) = %v, %v; want an entry with a file", key, e, ok)
	}
	return bodyPath(d.bodies, key, e.File.(*diskBody).id)
}

// checkDropped checks that a corrupt entry was refused, dropped with its
// file, counted and logged.
func checkDropped(t *testing.T, d *Disk, logs *logBuf, key, path string, openErr error, corrupt float64) {
	t.Helper()
	if !errors.Is(openErr, errCorrupt) {
		t.Errorf("Open of a damaged body: err = %v, want errCorrupt", openErr)
	}
	if _, ok := d.Get(key); ok {
		t.Error("the damaged entry is still served")
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("damaged body file not removed: %v", err)
	}
	if n := metricValue(t, d, "tern_store_disk_corrupt_total"); n != corrupt {
		t.Errorf("tern_store_disk_corrupt_total = %v, want %v", n, corrupt)
	}
	if !strings.Contains(logs.String(), path) || !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("no warning naming %s in the log:\n%s", path, logs.String())
	}
	if d.Objects() != 0 || d.Bytes() != 0 {
		t.Errorf("after the drop: Objects() = %d, Bytes() = %d", d.Objects(), d.Bytes())
	}
}

func TestDiskTruncatedBody(t *testing.T) {
	var logs logBuf
	d := openTestDisk(t, DiskConfig{Logger: logs.logger()})
	d.Set("k", bodyEntry(10*kib), time.Hour)
	path := pathOf(t, d, "k")
	e, _ := d.Get("k")
	if err := os.Truncate(path, 5*kib); err != nil {
		t.Fatal(err)
	}
	f, err := e.File.Open()
	if err == nil {
		f.Close()
	}
	checkDropped(t, d, &logs, "k", path, err, 1)
}

func TestDiskFlippedByte(t *testing.T) {
	for _, verifiedBefore := range []bool{false, true} {
		t.Run(fmt.Sprintf("verified before=%v", verifiedBefore), func(t *testing.T) {
			var logs logBuf
			d := openTestDisk(t, DiskConfig{Logger: logs.logger()})
			d.Set("k", bodyEntry(100*kib), time.Hour)
			path := pathOf(t, d, "k")
			e, _ := d.Get("k")
			if verifiedBefore {
				readBody(t, e)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt([]byte{1}, 77*kib)
			f.Close()
			// The write moved mtime, unless within the kernel's clock
			// tick; make the move certain.
			os.Chtimes(path, time.Time{}, fi.ModTime().Add(time.Second))

			bf, err := e.File.Open()
			if err == nil {
				bf.Close()
			}
			checkDropped(t, d, &logs, "k", path, err, 1)
		})
	}
}

func TestDiskMissingBody(t *testing.T) {
	d := openTestDisk(t, DiskConfig{})
	d.Set("k", bodyEntry(kib), time.Hour)
	path := pathOf(t, d, "k")
	e, _ := d.Get("k")
	os.Remove(path)
	if _, err := e.File.Open(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of a lost file: %v", err)
	}
	if _, ok := d.Get("k"); ok {
		t.Error("an entry whose file is lost is still served")
	}
	if n := metricValue(t, d, "tern_store_disk_corrupt_total"); n != 1 {
		t.Errorf("tern_store_disk_corrupt_total = %v, want 1", n)
	}
}

// TestOpenDiskCleansUp leaves behind what crashes and damage leave, and
// checks that the next start removes temp files and orphan bodies, and
// drops records whose body is missing or, after an unclean stop, has the
// wrong size.
func TestOpenDiskCleansUp(t *testing.T) {
	for _, clean := range []bool{false, true} {
		t.Run(fmt.Sprintf("clean=%v", clean), func(t *testing.T) {
			dir := t.TempDir()
			cfg := DiskConfig{Dir: dir, MaxBytes: mib}
			d, err := openDisk(cfg, testTuning)
			if err != nil {
				t.Fatal(err)
			}
			waitSwept(t, d)
			for _, k := range []string{"good", "missing", "short", "nobody"} {
				n := kib
				if k == "nobody" {
					n = 0
				}
				d.Set(k, bodyEntry(n), time.Hour)
			}
			missing, short := pathOf(t, d, "missing"), pathOf(t, d, "short")
			good := pathOf(t, d, "good")
			if clean {
				if err := d.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				crash(t, d)
			}

			// A temp file of a Set that never finished, an orphan body (its
			// rename done, its record never committed), and a stranger.
			tmps := []string{filepath.Join(dir, "tmp", "body-123"), filepath.Join(dir, "tmp", "probe-9")}
			orphan := bodyPath(filepath.Join(dir, "bodies"), "orphan", fileID{epoch: d.epoch, seq: 999})
			stranger := filepath.Join(dir, "bodies", "00", "notes.txt")
			for _, p := range append(tmps, orphan, stranger) {
				if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			os.Remove(missing)
			os.Truncate(short, 10)

			var logs logBuf
			cfg.Logger = logs.logger()
			d2 := openTestDisk(t, cfg)
			for _, p := range append(tmps, orphan) {
				if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s survived the start: %v", p, err)
				}
			}
			if _, err := os.Stat(stranger); err != nil {
				t.Errorf("a file not named like a body was removed: %v", err)
			}
			if _, err := os.Stat(good); err != nil {
				t.Errorf("a good body was removed: %v", err)
			}
			if _, ok := d2.Get("missing"); ok {
				t.Error("the record whose body is missing is served")
			}
			if !clean {
				// An unclean stop has the sweep check every size.
				if _, ok := d2.Get("short"); ok {
					t.Error("the record whose body is short is served")
				}
			} else {
				// After a clean stop the size is checked at Open.
				e, ok := d2.Get("short")
				if !ok {
					t.Fatal("short entry dropped after a clean stop")
				}
				if _, err := e.File.Open(); !errors.Is(err, errCorrupt) {
					t.Errorf("Open of a short body: %v", err)
				}
			}
			if d2.Objects() != 2 { // good, nobody
				t.Errorf("Objects() = %d, want 2", d2.Objects())
			}
			for _, k := range []string{"good", "nobody"} {
				if e, ok := d2.Get(k); !ok || len(readBody(t, e)) != int(e.BodySize()) {
					t.Errorf("Get(%s) after the start: %v", k, ok)
				}
			}
			if !strings.Contains(logs.String(), "orphans_removed=1") {
				t.Errorf("the sweep did not log the orphan:\n%s", logs.String())
			}
			if n := metricValue(t, d2, "tern_store_disk_corrupt_total"); n != 2 {
				t.Errorf("tern_store_disk_corrupt_total = %v, want 2 (missing and short)", n)
			}
		})
	}
}

// failingWrite makes the body writes fail with err after writing half.
type failingWrite struct{ err atomic.Pointer[error] }

func (w *failingWrite) write(f *os.File, b []byte) (int, error) {
	if p := w.err.Load(); p != nil {
		n, _ := f.Write(b[:len(b)/2])
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: *p}
	}
	return f.Write(b)
}

func TestDiskWriteErrors(t *testing.T) {
	var logs logBuf
	var w failingWrite
	tun := testTuning
	tun.write = w.write
	d := openTestDisk(t, DiskConfig{Logger: logs.logger()}, tun)
	d.Set("old", bodyEntry(kib), time.Hour)

	for _, c := range []struct {
		err    error
		result string
	}{{syscall.EIO, writeError}} { // ENOSPC: disk_space_test.go
		w.err.Store(&c.err)
		if d.Set("k", bodyEntry(8*kib), time.Hour) {
			t.Errorf("Set succeeded with writes failing with %v", c.err)
		}
		if n := metricValue(t, d, "tern_store_disk_writes_total", "result", c.result); n != 1 {
			t.Errorf("tern_store_disk_writes_total{result=%q} = %v, want 1", c.result, n)
		}
		if names, _ := readDirNames(d.tmp); len(names) != 0 {
			t.Errorf("temp files left after a failed write: %v", names)
		}
		if _, ok := d.Get("k"); ok {
			t.Error("the failed entry is served")
		}
		if !strings.Contains(logs.String(), c.err.Error()) || !strings.Contains(logs.String(), d.bodies) {
			t.Errorf("no warning with the error and the path:\n%s", logs.String())
		}
		time.Sleep(time.Second) // past the log rate limit
	}
	w.err.Store(nil)
	if !d.Set("k", bodyEntry(8*kib), time.Hour) {
		t.Error("Set refused after the writes recovered")
	}
	files, _ := bodyFiles(t, d)
	if files != 2 || d.Objects() != 2 {
		t.Errorf("%d files, %d objects; want 2 of each", files, d.Objects())
	}
}

// mountTmpfs mounts a tmpfs of size bytes at dir (root only), unmounted
// when the test ends.
func mountTmpfs(t *testing.T, dir string, size int, flags uintptr) {
	t.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("cannot mount a tmpfs (%v)", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}

// TestDiskENOSPC fills a real small filesystem with a budget 32 times
// larger (issue 11 item 11): the write that finds it full lowers the
// budget to what the cache holds, evicts the oldest entries and succeeds
// when tried again, and so do the writes after it.
func TestDiskENOSPC(t *testing.T) {
	dir := t.TempDir()
	mountTmpfs(t, dir, 2*mib, 0)
	var logs logBuf
	d := openTestDisk(t, DiskConfig{Dir: dir, MaxBytes: 64 * mib, Logger: logs.logger()})
	rng := rand.New(rand.NewPCG(5, 6))
	var keys []string
	bodies := map[string][]byte{}
	for i := range 20 {
		k := fmt.Sprintf("k%d", i)
		body := randomBody(rng, 256*kib)
		if !d.Set(k, &httpcache.Entry{Status: 200, Body: body}, time.Hour) {
			t.Errorf("Set(%s) refused: the full filesystem wedged the cache; log:\n%s", k, logs.String())
		}
		keys, bodies[k] = append(keys, k), body
	}
	checkFullFilesystem(t, d, &logs, keys, bodies, 64*mib)
	if names, _ := readDirNames(d.tmp); len(names) != 0 {
		t.Errorf("temp files left after ENOSPC: %v", names)
	}
}

func TestOpenDiskUnwritable(t *testing.T) {
	t.Run("under a file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		os.WriteFile(file, nil, 0o644)
		dir := filepath.Join(file, "cache")
		if d, err := OpenDisk(DiskConfig{Dir: dir, MaxBytes: mib}); err == nil {
			d.Close()
			t.Fatal("OpenDisk under a regular file succeeded")
		} else if !strings.Contains(err.Error(), dir) {
			t.Errorf("error %q does not name %s", err, dir)
		}
	})
	t.Run("read-only folder", func(t *testing.T) {
		dir := t.TempDir()
		// An existing cache whose folder became read-only.
		openTestDisk(t, DiskConfig{Dir: dir}).Close()
		if err := os.Chmod(filepath.Join(dir, "tmp"), 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(filepath.Join(dir, "tmp"), 0o755) })
		if probe, err := os.Create(filepath.Join(dir, "tmp", "probe")); err == nil {
			probe.Close()
			os.Remove(probe.Name())
			t.Skip("chmod does not stop this user (root) from writing")
		}
		checkUnwritable(t, dir)
	})
	t.Run("read-only filesystem", func(t *testing.T) {
		dir := t.TempDir()
		mountTmpfs(t, dir, mib, syscall.MS_RDONLY)
		checkUnwritable(t, dir)
	})
}

func checkUnwritable(t *testing.T, dir string) {
	t.Helper()
	d, err := OpenDisk(DiskConfig{Dir: dir, MaxBytes: mib})
	if err == nil {
		d.Close()
		t.Fatal("OpenDisk of an unwritable folder succeeded")
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name %s", err, dir)
	}
}

// The crash test runs this test binary again as a writer and kills it.
const crashEnv = "TERN_DISK_CRASH_DIR"

const crashKeys = 32

// crashEntry is the entry the writer stores under key in its seed-th
// write: a body that only that write has, and the seed to check it by.
func crashEntry(key string, seed uint64) *httpcache.Entry {
	h := fnv.New64a()
	h.Write([]byte(key))
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], h.Sum64())
	binary.LittleEndian.PutUint64(s[8:], seed)
	src := rand.NewChaCha8(s)
	body := make([]byte, 1+rand.New(src).IntN(96*kib))
	src.Read(body)
	return &httpcache.Entry{
		Status: 200,
		Header: http.Header{"X-Seed": {strconv.FormatUint(seed, 10)}},
		Body:   body,
	}
}

// crashWriter Sets and Deletes entries until it is killed (or 30 s pass).
func crashWriter(dir string) {
	d, err := OpenDisk(DiskConfig{Dir: dir, MaxBytes: mib})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		k := fmt.Sprintf("k%d", rng.IntN(crashKeys))
		if i%7 == 6 {
			d.Delete(k)
		} else {
			d.Set(k, crashEntry(k, rng.Uint64()), time.Hour)
		}
		if i == 3 {
			fmt.Println("ready")
		}
	}
	d.Close()
}

// TestDiskCrash kills a writer at random moments and checks that every
// entry the reopened cache returns is exactly what was written, that the
// start needs no repair it cannot do, and that nothing is left over.
func TestDiskCrash(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashWriter(dir)
		return
	}
	if testing.Short() {
		t.Skip("runs a subprocess")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for round := range 8 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDiskCrash$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if sc.Text() == "ready" {
					ready <- "ready"
					io.Copy(io.Discard, out)
					return
				}
				ready <- sc.Text()
				return
			}
			ready <- "exited"
		}()
		select {
		case line := <-ready:
			if line != "ready" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d: writer said %q", round, line)
			}
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: writer not ready after 60s", round)
		}
		time.Sleep(time.Duration(20+rng.IntN(400)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()

		d, err := openDisk(DiskConfig{Dir: dir, MaxBytes: mib}, testTuning)
		if err != nil {
			t.Fatalf("round %d: OpenDisk after a crash: %v", round, err)
		}
		waitSwept(t, d)
		var found int
		for i := range crashKeys {
			k := fmt.Sprintf("k%d", i)
			e, ok := d.Get(k)
			if !ok {
				continue
			}
			found++
			seed, err := strconv.ParseUint(e.Header.Get("X-Seed"), 10, 64)
			if err != nil {
				t.Errorf("round %d: %s has a bad header %v", round, k, e.Header)
				continue
			}
			f, err := e.File.Open()
			if err != nil {
				t.Errorf("round %d: %s: Open: %v", round, k, err)
				continue
			}
			b, err := io.ReadAll(f)
			f.Close()
			if want := crashEntry(k, seed).Body; err != nil || !bytes.Equal(b, want) {
				t.Errorf("round %d: %s: body of %d bytes (err %v) is not the %d written", round, k, len(b), err, len(want))
			}
		}
		files, onDisk := bodyFiles(t, d)
		tmp, _ := readDirNames(d.tmp)
		t.Logf("round %d: %d entries, %d files (%d bytes), Bytes() = %d", round, found, files, onDisk, d.Bytes())
		if int64(found) != d.Objects() || int64(files) != d.Objects() {
			t.Errorf("round %d: %d entries found, %d body files, Objects() = %d", round, found, files, d.Objects())
		}
		if len(tmp) != 0 {
			t.Errorf("round %d: temp files after the start: %v", round, tmp)
		}
		if d.Bytes() > d.MaxBytes() {
			t.Errorf("round %d: Bytes() = %d > MaxBytes()", round, d.Bytes())
		}
		if n := metricValue(t, d, "tern_store_disk_corrupt_total"); n != 0 {
			t.Errorf("round %d: %v corrupt objects after a crash", round, n)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// A record this build cannot decode (a newer codec, or damage) is a miss,
// and is dropped with its body.
func TestDiskBadRecord(t *testing.T) {
	d := openTestDisk(t, DiskConfig{})
	d.Set("k", bodyEntry(kib), time.Hour)
	path := pathOf(t, d, "k")
	_, err := d.update(func(x *indexTx) error {
		v := bytes.Clone(x.entries.Get([]byte("k")))
		v[recordHeader] = codecVersion + 1
		// As if found so in the index: pathOf's Get cached the record
		// decoded, and a copy decoded once stays good.
		x.keys = append(x.keys, "k")
		return x.entries.Put([]byte("k"), v)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Get("k"); ok {
		t.Fatal("a record of an unknown codec version decoded")
	}
	if d.Objects() != 0 || d.Bytes() != 0 {
		t.Errorf("after dropping it: Objects() = %d, Bytes() = %d", d.Objects(), d.Bytes())
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("its body file: %v", err)
	}
	if n := metricValue(t, d, "tern_store_disk_corrupt_total"); n != 1 {
		t.Errorf("tern_store_disk_corrupt_total = %v, want 1", n)
	}
	if !d.Set("k", bodyEntry(kib), time.Hour) {
		t.Error("Set refused after the drop")
	}
}
