package store

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// sweep brings the body folders and the index into agreement after a
// start: it removes body files that no record names (a crash between the
// rename of a body and the commit of its record, or a failed removal) and
// drops records whose body file is missing. After an unclean shutdown
// (checkSizes) it also drops records whose file has the wrong size, with
// one stat per file. It reads only the lru bucket's small keys and values
// and the folders' names, never a body or a record's metadata.
//
// It runs beside Get and Set. Files of this process's epoch are never
// touched: the records of older files can only disappear while it runs,
// never appear, so a file missing from its snapshot of the index is an
// orphan, and a record is dropped only if it still names the file found
// missing.
func (d *Disk) sweep(ctx context.Context, checkSizes bool) {
	defer close(d.swept)
	defer func() {
		if v := recover(); v != nil {
			d.log.Error("store: disk sweep panicked", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	start := time.Now()

	type known struct {
		id        fileID
		seen, bad bool
		size      int64
	}
	var files []known
	err := d.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLRU).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			_, id, ok := parseLRUKey(k)
			if !ok || len(v) < 8 || id.epoch == d.epoch {
				continue
			}
			if size := int64(binary.BigEndian.Uint64(v)); size > 0 {
				files = append(files, known{id: id, size: size})
			}
		}
		return nil
	})
	if err != nil {
		d.log.Warn("store: disk sweep cannot read the index", "path", d.index, "err", err)
		return
	}
	cmpID := func(a, b fileID) int {
		return cmp.Or(cmp.Compare(a.epoch, b.epoch), cmp.Compare(a.seq, b.seq))
	}
	slices.SortFunc(files, func(a, b known) int { return cmpID(a.id, b.id) })

	var orphans, unknown int
	for i := range 256 {
		if ctx.Err() != nil {
			return
		}
		dir := filepath.Join(d.bodies, fmt.Sprintf("%02x", i))
		names, err := readDirNames(dir)
		if err != nil {
			d.log.Warn("store: disk sweep cannot list a body folder", "path", dir, "err", err)
			return
		}
		for _, name := range names {
			id, ok := parseBodyName(name)
			if !ok {
				unknown++
				continue
			}
			if id.epoch == d.epoch {
				continue
			}
			path := filepath.Join(dir, name)
			j, found := slices.BinarySearchFunc(files, id, func(k known, id fileID) int { return cmpID(k.id, id) })
			if !found {
				if err := os.Remove(path); err == nil {
					orphans++
				}
				continue
			}
			files[j].seen = true
			if checkSizes {
				if fi, err := os.Lstat(path); err == nil && fi.Size() != files[j].size {
					files[j].bad = true
				}
			}
		}
	}

	lost := make(map[fileID]bool)
	for _, f := range files {
		if !f.seen || f.bad {
			lost[f.id] = true
		}
	}
	var dropped int
	if len(lost) > 0 {
		removed, err := d.update(func(x *indexTx) error {
			type victim struct {
				key string
				id  fileID
			}
			var victims []victim
			c := x.lru.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				_, id, ok := parseLRUKey(k)
				if !ok || !lost[id] {
					continue
				}
				if _, key, ok := parseLRUValue(v); ok {
					victims = append(victims, victim{key, id})
				}
			}
			for _, vi := range victims {
				if r, v, ok := x.get(vi.key); ok && r.id == vi.id {
					x.delete(vi.key, r, len(v))
					dropped++
				}
			}
			return nil
		})
		if err != nil {
			d.log.Warn("store: disk sweep cannot drop records", "path", d.index, "err", err)
			return
		}
		d.removeFiles(removed)
		d.met.corrupt.Add(float64(dropped))
	}
	d.sweepOK.Store(true)
	if orphans > 0 || dropped > 0 || unknown > 0 {
		d.log.Info("store: disk sweep", "path", d.dir, "orphans_removed", orphans,
			"records_dropped", dropped, "unknown_files", unknown, "checked_sizes", checkSizes,
			"seconds", time.Since(start).Seconds())
	}
}
