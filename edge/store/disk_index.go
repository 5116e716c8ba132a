package store

import (
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// indexTx is one write transaction of the disk index: the buckets, the
// totals as they stand in it, and the body files to remove once it
// commits.
type indexTx struct {
	entries, lru, meta, tags *bolt.Bucket
	m                        diskMeta
	changed                  bool // m must be saved
	removed                  []removal
	evicted                  int
	// keys whose record was put or removed, for the metadata cache
	keys []string
}

// removal is a body file whose record is gone.
type removal struct {
	key string
	id  fileID
}

func newIndexTx(tx *bolt.Tx, m diskMeta) (*indexTx, error) {
	x := &indexTx{m: m}
	for _, b := range []struct {
		name []byte
		dst  **bolt.Bucket
	}{{bucketEntries, &x.entries}, {bucketLRU, &x.lru}, {bucketMeta, &x.meta}, {bucketTags, &x.tags}} {
		*b.dst = tx.Bucket(b.name)
		if *b.dst == nil {
			var err error
			if *b.dst, err = tx.CreateBucket(b.name); err != nil {
				return nil, err
			}
		}
	}
	return x, nil
}

func (x *indexTx) saveMeta() error { return x.meta.Put(metaKey, x.m.encode()) }

// get returns key's record and its encoding, valid until the next change.
func (x *indexTx) get(key string) (record, []byte, bool) {
	v := x.entries.Get([]byte(key))
	if v == nil {
		return record{}, nil, false
	}
	r, err := parseRecord(v)
	if err != nil {
		return record{}, nil, false
	}
	return r, v, true
}

// put stores the record v (which is r encoded) under key.
func (x *indexTx) put(key string, v []byte, r record) error {
	if err := x.entries.Put([]byte(key), v); err != nil {
		return err
	}
	if err := x.lru.Put(lruKey(r.stamp, r.id), lruValue(r.size, key)); err != nil {
		return err
	}
	if err := x.putTags(key, r.tags); err != nil {
		return err
	}
	x.keys = append(x.keys, key)
	x.m.bytes += objectCost(key, len(v), r.size)
	x.m.objects++
	x.changed = true
	return nil
}

// delete removes key's record r, whose encoding is n bytes long. Deletes
// of keys bbolt just returned cannot fail in a writable transaction.
func (x *indexTx) delete(key string, r record, n int) {
	x.forget(key, r, n)
	if r.size > 0 {
		x.removed = append(x.removed, removal{key, r.id})
	}
}

// deleteKey removes whatever key holds, a record that does not parse too
// (its lru key, if any, is then dropped by evict when it gets there).
func (x *indexTx) deleteKey(key string) error {
	v := x.entries.Get([]byte(key))
	if v == nil {
		return nil
	}
	if r, err := parseRecord(v); err == nil {
		x.delete(key, r, len(v))
		return nil
	}
	x.m.bytes -= objectCost(key, len(v), 0)
	x.m.objects--
	x.changed = true
	x.keys = append(x.keys, key)
	return x.entries.Delete([]byte(key))
}

// evict removes the least recently used records until the totals are at
// most limit bytes.
func (x *indexTx) evict(limit int64) error {
	for x.m.bytes > limit {
		k, v := x.lru.Cursor().First()
		if k == nil {
			// Records without an lru key cannot be: the totals are off.
			if err := x.recount(); err != nil {
				return err
			}
			if x.m.bytes > limit {
				return fmt.Errorf("store: disk index holds %d bytes with nothing left to evict", x.m.bytes)
			}
			return nil
		}
		_, id, ok1 := parseLRUKey(k)
		_, key, ok2 := parseLRUValue(v)
		r, rv, ok3 := x.get(key)
		if !ok1 || !ok2 || !ok3 || r.id != id {
			// An lru key whose record is gone or newer: drop it alone.
			if err := x.lru.Delete(slices.Clone(k)); err != nil {
				return err
			}
			continue
		}
		x.delete(key, r, len(rv))
		x.evicted++
	}
	return nil
}

// touch moves the records of keys hit since the last flush to their hit
// time in the lru order. Keys are taken in order, for locality in the
// tree.
func (x *indexTx) touch(hits map[string]int64) error {
	keys := make([]string, 0, len(hits))
	for k := range hits {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		at := hits[key]
		r, v, ok := x.get(key)
		if !ok || r.stamp >= at {
			continue
		}
		nv := slices.Clone(v)
		setStamp(nv, at)
		if err := x.lru.Delete(lruKey(r.stamp, r.id)); err != nil {
			return err
		}
		if err := x.lru.Put(lruKey(at, r.id), lruValue(r.size, key)); err != nil {
			return err
		}
		if err := x.entries.Put([]byte(key), nv); err != nil {
			return err
		}
	}
	return nil
}

// expire deletes the records of keys that a Get found expired, if they
// still are at now.
func (x *indexTx) expire(keys map[string]struct{}, now int64) error {
	for key := range keys {
		if r, v, ok := x.get(key); ok && now >= r.expiry {
			x.delete(key, r, len(v))
		}
	}
	return nil
}

// recount sets the totals from the entries bucket. Only for a lost meta
// record: it reads every record.
func (x *indexTx) recount() error {
	var m diskMeta
	err := x.entries.ForEach(func(k, v []byte) error {
		r, err := parseRecord(v)
		if err != nil {
			r.size = 0
		}
		m.bytes += objectCost(string(k), len(v), r.size)
		m.objects++
		return nil
	})
	if err != nil {
		return errors.Join(errors.New("store: recount disk index"), err)
	}
	x.m.bytes, x.m.objects = m.bytes, m.objects
	x.changed = true
	return nil
}
