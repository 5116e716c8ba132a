package store

import (
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// Tiered is the memory tier in front of the disk tier, as one store. An
// entry goes to the tiers its Tier allows; a disk hit is served from its
// file at once and copied into memory in the background, where the memory
// tier's own admission policy decides whether it stays.
type Tiered struct {
	mem  *Memory
	disk *Disk
	log  *slog.Logger
	now  func() time.Time

	promote chan promotion
	stop    chan struct{}
	wg      sync.WaitGroup
	// memMu orders a promotion's copy into memory against every other
	// change of the key in memory (Set, Delete, DeleteTag, a refresh): a
	// copy read from disk before the change must not land in memory after
	// it, or a replaced body or a purge would come back. Each such change
	// commits to disk first, and the promoter copies only while the disk
	// still holds the very record it read (Disk.holds), both under memMu.
	memMu sync.Mutex
}

// promotion is a disk hit's record to copy into memory.
type promotion struct {
	key string
	cm  *cachedMeta
}

// maxPromote bounds the bodies copied from disk into memory: larger ones
// are served from their files.
const maxPromote = 4 << 20

// NewTiered returns memory in front of disk; disk may be nil (memory only).
func NewTiered(mem *Memory, disk *Disk, log *slog.Logger) *Tiered {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Tiered{mem: mem, disk: disk, log: log, now: time.Now,
		promote: make(chan promotion, 256), stop: make(chan struct{})}
	if disk != nil {
		t.wg.Add(1)
		go t.promoter()
	}
	return t
}

// Get returns the entry from memory, else from disk.
func (t *Tiered) Get(key string) (*httpcache.Entry, bool) {
	if e, ok := t.mem.Get(key); ok {
		return e, true
	}
	if t.disk == nil {
		return nil, false
	}
	cm, ok := t.disk.get(key)
	if !ok {
		return nil, false
	}
	t.offerPromotion(key, cm)
	return cm.e, true
}

// offerPromotion queues a disk record's copy into memory, if its Tier and
// size allow.
func (t *Tiered) offerPromotion(key string, cm *cachedMeta) {
	if !cm.e.Tier.Allows(httpcache.TierMemory) || cm.e.BodySize() > maxPromote {
		return
	}
	select {
	case t.promote <- promotion{key: key, cm: cm}:
	default: // busy: this hit is served from disk, a later one promotes
	}
}

// Set stores e in every tier its Tier allows and reports whether one kept
// it. The disk is written first, so that a promotion of the key's older
// record, read before, finds the disk changed and leaves memory alone.
func (t *Tiered) Set(key string, e *httpcache.Entry, ttl time.Duration) bool {
	if e.File != nil {
		return t.setRefreshed(key, e, ttl)
	}
	kept := false
	if t.disk != nil && e.Tier.Allows(httpcache.TierDisk) {
		kept = t.disk.Set(key, e, ttl)
	}
	if e.Tier.Allows(httpcache.TierMemory) || t.disk == nil {
		t.memMu.Lock()
		kept = t.mem.Set(key, e, ttl) || kept
		t.memMu.Unlock()
	}
	return kept
}

// setRefreshed stores an entry whose body is a disk file: one the disk
// tier gave, refreshed by a revalidation. The disk tier updates the
// record's metadata and keeps the file, which neither tier rewrites or
// removes, so whoever holds e.File (the revalidation serving it, too) can
// still open it. Only once the disk holds e may memory point at its file;
// if the disk no longer names that file (the key was replaced, deleted or
// evicted since), e is stored nowhere and memory drops its older copy.
func (t *Tiered) setRefreshed(key string, e *httpcache.Entry, ttl time.Duration) bool {
	if t.disk == nil || !t.disk.Set(key, e, ttl) {
		t.log.Debug("store: a refreshed entry's body is no longer stored", "key", key)
		return false
	}
	if e.Tier.Allows(httpcache.TierMemory) {
		// A copy promoted before the revalidation has the old metadata.
		t.memMu.Lock()
		t.mem.Delete(key)
		t.memMu.Unlock()
		if cm, ok := t.disk.get(key); ok {
			t.offerPromotion(key, cm)
		}
	}
	return true
}

// Delete removes key from both tiers.
func (t *Tiered) Delete(key string) {
	t.memMu.Lock()
	defer t.memMu.Unlock()
	t.mem.Delete(key)
	if t.disk != nil {
		t.disk.Delete(key)
	}
}

// Close stops the promoter and closes both tiers.
func (t *Tiered) Close() error {
	close(t.stop)
	t.wg.Wait()
	t.mem.Close()
	if t.disk != nil {
		return t.disk.Close()
	}
	return nil
}

func (t *Tiered) promoter() {
	defer t.wg.Done()
	for {
		select {
		case <-t.stop:
			return
		case p := <-t.promote:
			t.promoteOne(p)
		}
	}
}

// promoteOne copies p's record into memory, unless memory has the key or
// the disk no longer holds that record (replaced, refreshed, deleted or
// purged since it was read).
func (t *Tiered) promoteOne(p promotion) {
	if cp, ttl, ok := t.readPromotion(p); ok {
		t.admitPromotion(p, cp, ttl)
	}
}

// readPromotion reads p's body into a memory copy of its entry.
func (t *Tiered) readPromotion(p promotion) (*httpcache.Entry, time.Duration, bool) {
	if _, ok := t.mem.Get(p.key); ok {
		return nil, 0, false
	}
	b, err := readFileBody(p.cm.e.File)
	if err != nil {
		return nil, 0, false // Open dropped a corrupt entry already
	}
	cp := *p.cm.e
	cp.Body, cp.File = b, nil
	ttl := cp.StoreTTL(t.now())
	return &cp, ttl, ttl > 0
}

// admitPromotion stores cp, read for p, in memory if the disk still holds
// the record it was read from and memory has nothing newer.
func (t *Tiered) admitPromotion(p promotion, cp *httpcache.Entry, ttl time.Duration) {
	t.memMu.Lock()
	defer t.memMu.Unlock()
	if _, ok := t.mem.Get(p.key); ok || !t.disk.holds(p.key, p.cm) {
		return
	}
	t.mem.Set(p.key, cp, ttl)
}

// readFileBody reads a file body into memory; an entry without a body
// gives an empty one.
func readFileBody(fb httpcache.FileBody) ([]byte, error) {
	if fb == nil {
		return []byte{}, nil
	}
	f, err := fb.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, fb.Size())
	_, err = io.ReadFull(f, b)
	return b, err
}

// DeleteTag removes the entries carrying tag whose key match accepts
// (nil: all) from both tiers, and returns how many the tier holding most
// of them removed (an entry is often in both).
func (t *Tiered) DeleteTag(tag string, match func(key string) bool) int {
	// The disk first: a promotion that reads a body file after this
	// finds it gone, so memory cannot get back what the purge removed.
	n := 0
	if t.disk != nil {
		n = t.disk.DeleteTag(tag, match)
	}
	t.memMu.Lock()
	defer t.memMu.Unlock()
	return max(n, t.mem.DeleteTag(tag, match))
}

// SetState stores v as name with the disk tier; without one it is a
// no-op, as nothing else survives a restart either.
func (t *Tiered) SetState(name string, v []byte) error {
	if t.disk == nil {
		return nil
	}
	return t.disk.SetState(name, v)
}

// State returns the state stored as name with the disk tier, nil if none.
func (t *Tiered) State(name string) []byte {
	if t.disk == nil {
		return nil
	}
	return t.disk.State(name)
}
