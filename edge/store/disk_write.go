package store

import (
	"errors"
	"log/slog"
	"os"
)

var errClosed = errors.New("store: disk store closed")

// write stores record r (v encoded, cost as Bytes counts it) under key,
// with body in its file, evicting to stay within the budget. On error it
// returns the path that failed and leaves no file behind.
func (d *Disk) write(key string, body []byte, r record, v []byte, cost int64) (string, error) {
	var path string
	if r.size > 0 {
		path = bodyPath(d.bodies, key, r.id)
		if err := d.writeBody(path, body); err != nil {
			return path, err
		}
	}
	if d.closed.Load() {
		if path != "" {
			os.Remove(path)
		}
		return path, errClosed
	}
	removed, err := d.update(func(x *indexTx) error {
		if err := x.deleteKey(key); err != nil {
			return err
		}
		if err := d.makeRoom(x, cost, r.stamp); err != nil {
			return err
		}
		return x.put(key, v, r)
	})
	if err != nil {
		if path != "" {
			os.Remove(path)
		}
		return d.index, err
	}
	d.removeFiles(removed)
	return "", nil
}

// makeRoom evicts, in the write transaction x, the least recently used
// entries until cost more bytes fit in the effective budget. It first
// records the pending hits and expiries, so eviction sees the latest ones.
func (d *Disk) makeRoom(x *indexTx, cost, now int64) error {
	limit := d.limit.Load()
	if x.m.bytes+cost <= limit {
		return nil
	}
	touched, expired := d.pending.take()
	if err := x.touch(touched); err != nil {
		return err
	}
	if err := x.expire(expired, now); err != nil {
		return err
	}
	return x.evict(limit - cost)
}

// noSpace handles a write of cost bytes that found the filesystem full
// (ENOSPC or EDQUOT at path): the filesystem holds less than the budget,
// so the effective budget becomes what the cache holds now, counted as
// Bytes counts, and the oldest entries are evicted to make room for the
// write. Without it the cache would stay full, never evicting since it is
// within its budget, and every later write would fail. It reports whether
// the write may be tried again.
//
// The effective budget only goes down, and stays so until the cache is
// opened again: space freed by others later is not taken back. Writes
// that fail at once, before evictions free space, may each lower it a
// little more than needed.
func (d *Disk) noSpace(path string, err error, cost int64) bool {
	held := d.bytes.Load()
	var lowered bool
	for {
		limit := d.limit.Load()
		if held >= limit {
			break
		}
		if d.limit.CompareAndSwap(limit, held) {
			lowered = true
			break
		}
	}
	if lowered {
		if ok, suppressed := d.logs.allow("budget"); ok {
			d.log.Warn("store: disk full before the cache's budget; lowering the budget to what the cache holds",
				"path", path, "err", err, "budget", d.max, "effective_budget", held, "suppressed", suppressed)
		}
	}
	if cost > d.limit.Load() {
		return false // more than the filesystem holds for the cache
	}
	removed, uerr := d.update(func(x *indexTx) error { return d.makeRoom(x, cost, d.now().UnixNano()) })
	if uerr != nil {
		d.log.Warn("store: disk eviction after a full filesystem failed", "path", d.index, "err", uerr)
		return false
	}
	d.removeFiles(removed)
	d.log.Debug("store: evicted to make room on a full filesystem", slog.Int64("bytes", d.bytes.Load()), slog.Int("files", len(removed)))
	return len(removed) > 0
}
