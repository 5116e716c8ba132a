package store

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// DiskConfig configures a Disk.
type DiskConfig struct {
	// Dir is the cache folder, created if missing. It holds the index
	// (index.db), the bodies (bodies/00 … bodies/ff) and the files being
	// written (tmp/). One process at a time may open it.
	Dir string
	// MaxBytes bounds what the cache holds, counted as Disk.Bytes counts:
	// bodies plus a small per-object overhead.
	MaxBytes int64
	// Logger gets warnings: failed writes, corrupt bodies. Nil: discard.
	Logger *slog.Logger
	// Registerer gets the tern_store_disk_* metrics. Nil: a private
	// registry.
	Registerer prometheus.Registerer
	// Now is the clock for ttl and recency. Nil: time.Now.
	Now func() time.Time
	// OpenFiles bounds the body files kept open between hits, so a hit
	// does not open its file again; a file is lent to one hit at a time,
	// and one in use is not counted. 0: 1,024. Negative: none kept open.
	OpenFiles int
	// IndexCacheBytes bounds the in-memory copy of the index records hits
	// used (decoded metadata and body file identity), so a hit reads
	// neither the index nor a record. 0: 32 MiB. Negative: none.
	IndexCacheBytes int64
}

// The defaults of DiskConfig.OpenFiles and IndexCacheBytes.
const (
	DefaultOpenFiles       = 1024
	DefaultIndexCacheBytes = 32 << 20
)

// Disk is the disk tier: bodies in plain files (so a hit can leave with
// sendfile), everything else in a bbolt index, bounded in bytes, crash-safe
// and kept across restarts. See README.md for the layout, the crash-safety
// argument and the eviction policy.
type Disk struct {
	dir, bodies, tmp, index string
	max                     int64
	log                     *slog.Logger
	now                     func() time.Time
	tun                     diskTuning
	db                      *bolt.DB
	met                     *diskMetrics

	// limit is the effective budget: max, or less once the filesystem
	// was found full first (see noSpace).
	limit atomic.Int64

	epoch uint32        // this process's epoch, part of every file id
	seq   atomic.Uint64 // the last file id's seq

	// wmu is held around every index write transaction, so the totals
	// below follow the commit order. bbolt serializes writers anyway.
	wmu            sync.Mutex
	bytes, objects atomic.Int64

	pending pending  // hits and expiries not yet in the index
	logs    logLimit // rate limit of write-failure warnings

	metas *metaCache // the records hits used
	fds   *fdCache   // the body files open between hits

	// verified holds the body files whose CRC was checked by this process:
	// path → fileStamp at the time.
	verified sync.Map

	cancel  context.CancelFunc
	wg      sync.WaitGroup
	swept   chan struct{} // closed when the start-up sweep ends
	sweepOK atomic.Bool   // and it went through
	dirty   atomic.Bool   // a body file could not be removed
	closed  atomic.Bool
	commits atomic.Int64 // write transactions, for tests
}

// diskTuning holds what tests change; OpenDisk uses defaultTuning.
type diskTuning struct {
	// touchEvery is the resolution of recency: a hit on an object whose
	// stamp is younger is not recorded.
	touchEvery time.Duration
	// flushEvery is how often recorded hits go to the index.
	flushEvery time.Duration
	// maxPending bounds the hits waiting for a flush; more are dropped.
	maxPending int
	// write writes a body to its temp file.
	write func(f *os.File, b []byte) (int, error)
}

var defaultTuning = diskTuning{
	touchEvery: time.Minute,
	flushEvery: 5 * time.Second,
	maxPending: 64 << 10,
	write:      (*os.File).Write,
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// OpenDisk opens the cache in cfg.Dir, creating it if needed. It returns
// once the index is open; a sweep in the background then removes body
// files that no record names and records whose body is missing.
func OpenDisk(cfg DiskConfig) (*Disk, error) { return openDisk(cfg, defaultTuning) }

func openDisk(cfg DiskConfig, tun diskTuning) (_ *Disk, err error) {
	if cfg.Dir == "" {
		return nil, errors.New("store: disk store needs a folder")
	}
	if cfg.MaxBytes <= 0 {
		return nil, fmt.Errorf("store: disk store size must be positive, got %d", cfg.MaxBytes)
	}
	d := &Disk{
		dir:    cfg.Dir,
		bodies: filepath.Join(cfg.Dir, "bodies"),
		tmp:    filepath.Join(cfg.Dir, "tmp"),
		index:  filepath.Join(cfg.Dir, "index.db"),
		max:    cfg.MaxBytes,
		log:    cfg.Logger,
		now:    cfg.Now,
		tun:    tun,
		swept:  make(chan struct{}),
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	d.limit.Store(cfg.MaxBytes)
	d.pending.init(tun.maxPending)
	d.metas = newMetaCache(orDefault(cfg.IndexCacheBytes, DefaultIndexCacheBytes))
	d.fds = newFDCache(int(orDefault(int64(cfg.OpenFiles), DefaultOpenFiles)))
	if err := d.makeDirs(); err != nil {
		return nil, err
	}
	d.db, err = bolt.Open(d.index, 0o644, &bolt.Options{
		Timeout:         time.Second, // another process has the cache open
		FreelistType:    bolt.FreelistMapType,
		NoStatistics:    true,
		InitialMmapSize: 1 << 30, // address space only; readers never wait for a remap
	})
	if err != nil {
		return nil, fmt.Errorf("store: open disk index %s: %w", d.index, err)
	}
	defer func() {
		if err != nil {
			d.db.Close()
		}
	}()
	prevClean, err := d.startEpoch()
	if err != nil {
		return nil, fmt.Errorf("store: disk index %s: %w", d.index, err)
	}
	// Only now, holding the index's lock, may the temp files go: no other
	// process is writing them.
	if err := d.clearTmp(); err != nil {
		return nil, err
	}
	if d.met, err = newDiskMetrics(cfg.Registerer, d); err != nil {
		return nil, err
	}
	d.fds.hits, d.fds.misses = d.met.fileHits.Inc, d.met.fileMisses.Inc
	d.metas.hits, d.metas.misses = d.met.indexHits.Inc, d.met.indexMisses.Inc
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.wg.Go(func() { d.flushLoop(ctx) })
	d.wg.Go(func() { d.sweep(ctx, !prevClean) })
	return d, nil
}

// orDefault is v, or def for 0, or 0 for a negative v.
func orDefault(v, def int64) int64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// makeDirs creates the folders and checks that they can be written.
func (d *Disk) makeDirs() error {
	for _, dir := range []string{d.dir, d.bodies, d.tmp} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("store: disk store folder %s: %w", d.dir, err)
		}
	}
	for i := range 256 {
		dir := filepath.Join(d.bodies, fmt.Sprintf("%02x", i))
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("store: disk store folder %s: %w", d.dir, err)
		}
	}
	// The folders' own names must be durable before a body's is.
	for _, dir := range []string{d.bodies, d.dir} {
		if err := syncDir(dir); err != nil {
			return fmt.Errorf("store: disk store folder %s: %w", d.dir, err)
		}
	}
	f, err := os.CreateTemp(d.tmp, "probe-*")
	if err != nil {
		return fmt.Errorf("store: disk store folder %s is not writable: %w", d.dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// startEpoch reads the totals, takes the next epoch and marks the cache
// open (not clean). It reports whether the last process closed it cleanly.
func (d *Disk) startEpoch() (prevClean bool, err error) {
	err = d.db.Update(func(tx *bolt.Tx) error {
		x, err := newIndexTx(tx, diskMeta{})
		if err != nil {
			return err
		}
		m, ok := parseMeta(x.meta.Get(metaKey))
		if !ok {
			// A new cache, or a lost meta record: count what is there,
			// and start after the newest epoch that named a file.
			if err := x.recount(); err != nil {
				return err
			}
			m = diskMeta{bytes: x.m.bytes, objects: x.m.objects}
			x.lru.ForEach(func(k, _ []byte) error {
				if _, id, ok := parseLRUKey(k); ok {
					m.epoch = max(m.epoch, id.epoch)
				}
				return nil
			})
		}
		prevClean = m.clean
		m.epoch++
		m.clean = false
		x.m = m
		return x.saveMeta()
	})
	if err != nil {
		return false, err
	}
	var m diskMeta
	d.db.View(func(tx *bolt.Tx) error {
		m, _ = parseMeta(tx.Bucket(bucketMeta).Get(metaKey))
		return nil
	})
	d.epoch = m.epoch
	d.bytes.Store(m.bytes)
	d.objects.Store(m.objects)
	return prevClean, nil
}

// clearTmp removes what a crashed process was writing.
func (d *Disk) clearTmp() error {
	names, err := readDirNames(d.tmp)
	if err != nil {
		return fmt.Errorf("store: disk store folder %s: %w", d.dir, err)
	}
	for _, n := range names {
		if err := os.Remove(filepath.Join(d.tmp, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("store: disk store temp file: %w", err)
		}
	}
	return nil
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// Set stores e, whose body must be complete in e.Body, for ttl. The body
// goes to a temp file, is synced and renamed into place, and only then is
// the record committed, so a Get never sees an entry whose body is not
// whole. An entry whose File is the body this cache's Get gave for key (a
// revalidated entry) has only its metadata updated, its file kept (see
// refresh). Set refuses an entry with any other File, one whose Tier
// excludes the disk, and one that costs more than the effective budget
// (EffectiveBytes); a failed write returns false and leaves no file
// behind. A write that finds the filesystem full lowers the effective
// budget, evicts and is tried once more (noSpace).
func (d *Disk) Set(key string, e *httpcache.Entry, ttl time.Duration) bool {
	if ttl <= 0 || e == nil || !e.Tier.Allows(httpcache.TierDisk) ||
		key == "" || len(key) > bolt.MaxKeySize || d.closed.Load() {
		return false
	}
	if e.File != nil {
		b, ok := d.ownBody(key, e)
		return ok && d.refresh(key, e, b, ttl)
	}
	now := d.now().UnixNano()
	r := record{
		stamp:  now,
		expiry: now + min(int64(ttl), 1<<62), // far enough, and no overflow
		size:   int64(len(e.Body)),
		id:     fileID{d.epoch, d.seq.Add(1)},
		meta:   encodeEntry(nil, e),
		tags:   e.SurrogateKeys,
	}
	if r.size > 0 {
		r.crc = crc32.Checksum(e.Body, castagnoli)
	}
	v := r.append(make([]byte, 0, recordHeader+len(r.meta)))
	cost := objectCost(key, len(v), r.size)
	if cost > d.limit.Load() {
		return false
	}
	path, err := d.write(key, e.Body, r, v, cost)
	if writeResult(err) == writeENOSPC {
		// The filesystem holds less than the budget: make room and try
		// once more, or the tier stays full and every write fails.
		d.writeFailed(path, err)
		if !d.noSpace(path, err, cost) {
			return false
		}
		path, err = d.write(key, e.Body, r, v, cost)
	}
	if err != nil {
		if !errors.Is(err, errClosed) {
			d.writeFailed(path, err)
		}
		return false
	}
	d.met.writes.WithLabelValues(writeOK).Inc()
	return true
}

// writeBody writes body to a temp file, syncs it, renames it to path and
// syncs path's folder. On error nothing is left behind.
func (d *Disk) writeBody(path string, body []byte) (err error) {
	f, err := os.CreateTemp(d.tmp, "body-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close() // a second Close only returns an error
			os.Remove(tmp)
		}
	}()
	if _, err := d.tun.write(f, body); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// syncDir makes the names in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Delete removes the entry under key and its body file. A reader that has
// the file open keeps reading it.
func (d *Disk) Delete(key string) {
	if d.closed.Load() || !d.has(key) {
		return
	}
	removed, err := d.update(func(x *indexTx) error { return x.deleteKey(key) })
	if err != nil {
		d.log.Warn("store: disk delete failed", "path", d.index, "err", err)
		return
	}
	d.removeFiles(removed)
}

// has reports whether the index holds key, without a write transaction.
func (d *Disk) has(key string) bool {
	var ok bool
	d.db.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketEntries).Get([]byte(key)) != nil
		return nil
	})
	return ok
}

// Bytes is what the cache holds: per object, its body size, its key's and
// index record's length (the record is the encoded metadata plus
// recordHeader bytes) and diskObjectOverhead (256) bytes. Files take
// whole filesystem blocks, so the space used on disk by many small bodies
// is larger.
func (d *Disk) Bytes() int64 { return d.bytes.Load() }

// MaxBytes is the cache's budget, as configured.
func (d *Disk) MaxBytes() int64 { return d.max }

// EffectiveBytes is the budget the cache keeps to: MaxBytes, or what the
// cache held when the filesystem was found full.
func (d *Disk) EffectiveBytes() int64 { return d.limit.Load() }

// Objects is the number of entries the cache holds.
func (d *Disk) Objects() int64 { return d.objects.Load() }

// Close writes the recorded hits to the index, stops the background work
// and closes the index. The cache is marked clean if the start-up sweep
// finished and every removed body file is gone, which spares the next
// start the size check of every body file.
func (d *Disk) Close() error {
	if !d.closed.CompareAndSwap(false, true) {
		return nil
	}
	d.cancel()
	d.wg.Wait()
	d.flush()
	d.metas.clear()
	d.fds.close()
	clean := d.sweepOK.Load() && !d.dirty.Load()
	_, err := d.update(func(x *indexTx) error {
		x.m.clean = clean
		x.changed = true
		return nil
	})
	d.met.unregister()
	if cerr := d.db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: close disk index %s: %w", d.index, err)
	}
	return nil
}

// update runs fn in a write transaction of the index, saves the totals if
// fn changed them, and returns the body files to remove once committed.
func (d *Disk) update(fn func(x *indexTx) error) ([]removal, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	var x *indexTx
	defer func() {
		// After the commit (or the rollback): a Get that reads the index
		// from now on sees what this transaction did.
		if x != nil {
			d.metas.drop(x.keys)
		}
	}()
	err := d.db.Update(func(tx *bolt.Tx) error {
		var err error
		x, err = newIndexTx(tx, diskMeta{bytes: d.bytes.Load(), objects: d.objects.Load(), epoch: d.epoch})
		if err != nil {
			return err
		}
		if err := fn(x); err != nil {
			return err
		}
		if x.changed {
			return x.saveMeta()
		}
		return nil
	})
	d.commits.Add(1)
	if err != nil {
		return nil, err
	}
	d.bytes.Store(x.m.bytes)
	d.objects.Store(x.m.objects)
	if x.evicted > 0 {
		d.met.evictions.Add(float64(x.evicted))
	}
	return x.removed, nil
}

// removeFiles deletes the body files of records that are gone.
func (d *Disk) removeFiles(removed []removal) {
	for _, rm := range removed {
		p := bodyPath(d.bodies, rm.key, rm.id)
		d.verified.Delete(p)
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			d.dirty.Store(true)
			d.log.Warn("store: cannot remove body file", "path", p, "err", err)
		}
		// Only once the name is gone: no open can find the file after.
		d.fds.drop(rm.id)
	}
}

// dropBadRecord deletes a record that does not decode (a format this
// build does not know, or damage).
func (d *Disk) dropBadRecord(key string, bad error) {
	removed, err := d.update(func(x *indexTx) error {
		v := x.entries.Get([]byte(key))
		if v == nil {
			return nil
		}
		if r, err := parseRecord(v); err == nil {
			if _, err := decodeEntry(r.meta); err == nil {
				return nil // replaced since
			}
		}
		return x.deleteKey(key)
	})
	if err != nil {
		d.log.Warn("store: cannot drop bad index record", "path", d.index, "err", err)
		return
	}
	d.met.corrupt.Inc()
	d.log.Warn("store: dropped bad index record", "path", d.index, "err", bad)
	d.removeFiles(removed)
}

// dropIfCurrent deletes key's record if it still names the body id, and
// reports whether it did.
func (d *Disk) dropIfCurrent(key string, id fileID) bool {
	var current bool
	d.db.View(func(tx *bolt.Tx) error {
		r, err := parseRecord(tx.Bucket(bucketEntries).Get([]byte(key)))
		current = err == nil && r.id == id
		return nil
	})
	if !current {
		return false // no write transaction for a lost race
	}
	var dropped bool
	removed, err := d.update(func(x *indexTx) error {
		if r, v, ok := x.get(key); ok && r.id == id {
			x.delete(key, r, len(v))
			dropped = true
		}
		return nil
	})
	if err != nil {
		d.log.Warn("store: cannot drop index record", "path", d.index, "err", err)
		return false
	}
	d.removeFiles(removed)
	return dropped
}

// writeFailed counts and logs a failed Set.
func (d *Disk) writeFailed(path string, err error) {
	result := writeResult(err)
	d.met.writes.WithLabelValues(result).Inc()
	if ok, suppressed := d.logs.allow(result); ok {
		d.log.Warn("store: disk write failed", "path", path, "err", err, "result", result, "suppressed", suppressed)
	}
}
