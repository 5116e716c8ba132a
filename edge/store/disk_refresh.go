package store

import (
	"time"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// ownBody returns e's body file when it is one of this cache's files for
// key: an entry got from d and refreshed since (a 304 merge), whose body
// is unchanged.
func (d *Disk) ownBody(key string, e *httpcache.Entry) (*diskBody, bool) {
	b, ok := e.File.(*diskBody)
	return b, ok && b.d == d && b.key == key
}

// refresh stores the metadata of e, whose body is b, the file key's record
// names, for ttl: the record is rewritten in place and its file kept as it
// is, so a reader that got b (the revalidation that made e, or any other)
// still finds it, and no body is read or written. It fails, storing
// nothing, when the record no longer names b: the entry was replaced,
// deleted or evicted since, and that change stands.
func (d *Disk) refresh(key string, e *httpcache.Entry, b *diskBody, ttl time.Duration) bool {
	now := d.now().UnixNano()
	r := record{
		stamp:  now,
		expiry: now + min(int64(ttl), 1<<62),
		size:   b.size,
		crc:    b.crc,
		id:     b.id,
		meta:   encodeEntry(nil, e),
		tags:   e.SurrogateKeys,
	}
	v := r.append(make([]byte, 0, recordHeader+len(r.meta)))
	cost := objectCost(key, len(v), r.size)
	if cost > d.limit.Load() {
		return false
	}
	current := false
	removed, err := d.update(func(x *indexTx) error {
		old, oldV, ok := x.get(key)
		if !ok || old.id != b.id {
			return nil
		}
		current = true
		x.forget(key, old, len(oldV))
		if err := d.makeRoom(x, cost, now); err != nil {
			return err
		}
		return x.put(key, v, r)
	})
	if err != nil {
		d.writeFailed(d.index, err)
		return false
	}
	d.removeFiles(removed)
	if current {
		d.met.writes.WithLabelValues(writeOK).Inc()
	}
	return current
}

// forget removes key's record r (n bytes encoded) from the index but keeps
// its body file, which the record that replaces it names again.
func (x *indexTx) forget(key string, r record, n int) {
	x.entries.Delete([]byte(key))
	x.lru.Delete(lruKey(r.stamp, r.id))
	x.forgetTags(key, r)
	x.keys = append(x.keys, key)
	x.m.bytes -= objectCost(key, n, r.size)
	x.m.objects--
	x.changed = true
}
