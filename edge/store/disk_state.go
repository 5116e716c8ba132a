package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// stateKey names a caller's state record in the meta bucket; the prefix
// keeps it apart from the totals (metaKey).
func stateKey(name string) []byte { return []byte("x:" + name) }

// SetState durably stores v as the state called name, beside the index,
// so that what the cache's user knows of the entries (the edge's purge
// bans) survives a restart together with them.
func (d *Disk) SetState(name string, v []byte) error {
	if d.closed.Load() {
		return errClosed
	}
	_, err := d.update(func(x *indexTx) error { return x.meta.Put(stateKey(name), v) })
	if err != nil {
		return fmt.Errorf("store: save state %s in %s: %w", name, d.index, err)
	}
	return nil
}

// State returns the state stored as name, nil if none.
func (d *Disk) State(name string) []byte {
	var v []byte
	d.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketMeta).Get(stateKey(name)); b != nil {
			v = append([]byte{}, b...)
		}
		return nil
	})
	return v
}
