package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The disk tier's tag index is a bbolt bucket beside entries and lru:
//
//	tags  surrogate key ‖ 0x00 ‖ cache key → empty
//
// kept in the same write transaction as the record it describes (put
// adds a record's keys, forget, which every removal goes through, drops
// them), so it survives restarts and crashes exactly as the records do,
// and a tag purge reads only the keys under its tag: its cost is in
// proportion to the objects carrying the tag. A tag holding 0x00 is not
// indexed (it could not be told from the cache key).
var bucketTags = []byte("tags")

// deleteTagBatch bounds the records one transaction of DeleteTag removes,
// so a purge of a large tag does not hold the writer lock for long.
const deleteTagBatch = 1000

func tagKey(tag, key string) []byte {
	b := make([]byte, 0, len(tag)+1+len(key))
	b = append(b, tag...)
	b = append(b, 0)
	return append(b, key...)
}

func indexableTag(tag string) bool { return tag != "" && !bytes.Contains([]byte(tag), []byte{0}) }

func (x *indexTx) putTags(key string, tags []string) error {
	for _, t := range tags {
		if !indexableTag(t) {
			continue
		}
		if err := x.tags.Put(tagKey(t, key), nil); err != nil {
			return fmt.Errorf("store: tag index: %w", err)
		}
	}
	return nil
}

// forgetTags drops the tag keys of key's record r. Only a record in a
// cache that has tags at all is decoded.
func (x *indexTx) forgetTags(key string, r record) {
	if k, _ := x.tags.Cursor().First(); k == nil {
		return
	}
	e, err := decodeEntry(r.meta)
	if err != nil {
		return
	}
	for _, t := range e.SurrogateKeys {
		if indexableTag(t) {
			x.tags.Delete(tagKey(t, key))
		}
	}
}

// tagged returns the cache keys the index holds for tag.
func (d *Disk) tagged(tag string) []string {
	var keys []string
	prefix := tagKey(tag, "")
	d.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketTags).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, string(k[len(prefix):]))
		}
		return nil
	})
	return keys
}

// DeleteTag removes every entry that carries tag and whose key match
// accepts (nil: every key), with its body file, and returns how many it
// removed. It reads only the tag's part of the index and deletes in
// transactions of deleteTagBatch records.
func (d *Disk) DeleteTag(tag string, match func(key string) bool) int {
	if d.closed.Load() || !indexableTag(tag) {
		return 0
	}
	var keys []string
	for _, k := range d.tagged(tag) {
		if match == nil || match(k) {
			keys = append(keys, k)
		}
	}
	n := 0
	for len(keys) > 0 {
		batch := keys[:min(len(keys), deleteTagBatch)]
		keys = keys[len(batch):]
		removed, err := d.update(func(x *indexTx) error {
			for _, k := range batch {
				// Only a record that still carries the tag: one stored
				// since without it stays.
				tk := tagKey(tag, k)
				if x.tags.Get(tk) == nil {
					continue
				}
				if x.entries.Get([]byte(k)) != nil {
					n++
				}
				if err := x.deleteKey(k); err != nil {
					return err
				}
				// A record that did not parse left its tag key behind.
				if err := x.tags.Delete(tk); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			d.log.Warn("store: disk tag purge failed", "path", d.index, "err", err)
			return n
		}
		d.removeFiles(removed)
	}
	return n
}
