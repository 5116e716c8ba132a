package store

import (
	bolt "go.etcd.io/bbolt"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// Get returns the entry under key, its metadata from the index and its
// body as File (nil for an empty body); Body is nil. An entry past its ttl
// is a miss. The hit is recorded in memory for recency and reaches the
// index with a later batch. A key got before is served from the metadata
// cache, without reading the index.
func (d *Disk) Get(key string) (*httpcache.Entry, bool) {
	cm, ok := d.get(key)
	if !ok {
		return nil, false
	}
	return cm.e, true
}

// get is Get, returning the record the entry came from.
func (d *Disk) get(key string) (*cachedMeta, bool) {
	if d.closed.Load() {
		return nil, false
	}
	now := d.now().UnixNano()
	cm, gen := d.metas.get(key)
	if cm == nil {
		var ok bool
		if cm, ok = d.read(key, now); !ok {
			return nil, false
		}
		d.metas.add(cm, gen)
	}
	if now >= cm.expiry {
		d.metas.dropKey(cm)
		d.pending.expire(key)
		return nil, false
	}
	if stamp := cm.stamp.Load(); now-stamp >= int64(d.tun.touchEvery) && cm.stamp.CompareAndSwap(stamp, now) {
		d.pending.touch(key, now)
	}
	return cm, true
}

// holds reports whether the index's record for key is still cm's: the
// same body file id and the same ttl's end. Every Set gives a new id, and
// a refresh, which keeps the id, a new ttl.
func (d *Disk) holds(key string, cm *cachedMeta) bool {
	if d.closed.Load() {
		return false
	}
	var ok bool
	d.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketEntries).Get([]byte(key))
		if v == nil {
			return nil
		}
		r, err := parseRecord(v)
		ok = err == nil && r.id == cm.id && r.expiry == cm.expiry
		return nil
	})
	return ok
}

// read gets key's record from the index. An expired record is returned,
// for Get to report; one that does not decode is dropped.
func (d *Disk) read(key string, now int64) (*cachedMeta, bool) {
	var (
		r     record
		e     *httpcache.Entry
		found bool
		bad   error
	)
	err := d.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketEntries).Get([]byte(key))
		if v == nil {
			return nil
		}
		found = true
		if r, bad = parseRecord(v); bad != nil || now >= r.expiry {
			return nil
		}
		e, bad = decodeEntry(r.meta)
		return nil
	})
	if err != nil || !found {
		return nil, false
	}
	switch {
	case bad != nil:
		d.dropBadRecord(key, bad)
		return nil, false
	case now >= r.expiry:
		d.pending.expire(key)
		return nil, false
	}
	if r.size > 0 {
		e.File = &diskBody{d: d, key: key, id: r.id, size: r.size, crc: r.crc}
	}
	// Shared by the hits that find it cached: they share its Memo too.
	e.EnableMemo()
	cm := &cachedMeta{key: key, e: e, id: r.id, expiry: r.expiry, cost: e.Cost() + int64(len(key)) + metaOverhead}
	cm.stamp.Store(r.stamp)
	return cm, true
}
