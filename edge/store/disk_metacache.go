package store

import (
	"container/list"
	"sync"
	"sync/atomic"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// metaCache is an in-memory copy of what a disk hit needs from the index:
// per key, the decoded entry (its File naming the body file's id), the
// ttl's end and the recency stamp. A hit on it reads neither the index
// nor a record. It is filled by Get, lazily (so after a restart too), and
// bounded in bytes, least recently used out first.
//
// It never serves a record the index no longer holds: every write
// transaction that puts or removes a key's record (Set, refresh, Delete,
// DeleteTag, eviction, expiry, the sweep, a dropped corrupt record) goes
// through Disk.update, which drops those keys once it has committed. A Get
// that read the index before that commit may only add its copy if no drop
// happened since it started (gen), so an old record cannot come back.
type metaCache struct {
	max int64 // bytes; 0: nothing is cached

	mu    sync.Mutex
	bytes int64
	gen   uint64 // counts drops
	m     map[string]*list.Element
	lru   list.List // of *cachedMeta, most recently used first

	hits, misses func() // metrics; set by newDiskMetrics
}

// cachedMeta is one key's record, as a hit uses it. The entry is shared by
// every hit, as the memory tier's are: entries are immutable.
type cachedMeta struct {
	key    string
	e      *httpcache.Entry
	id     fileID // the record's; with expiry, what Disk.holds compares
	expiry int64
	stamp  atomic.Int64 // the last recorded hit (or Set), Unix ns
	cost   int64
}

// metaOverhead is a cached record's cost beyond its entry's Cost (which
// counts the Entry and its header as the memory tier does) and its key:
// the cachedMeta, its list element, its map slot and the diskBody.
// TestIndexCacheCostCoversHeap checks the sum against the heap.
const metaOverhead = 256

func newMetaCache(max int64) *metaCache {
	return &metaCache{max: max, m: make(map[string]*list.Element), hits: func() {}, misses: func() {}}
}

// get returns key's cached record, or nil and the generation a copy read
// from the index now must be added with.
func (c *metaCache) get(key string) (*cachedMeta, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[key]; ok {
		c.lru.MoveToFront(el)
		c.hits()
		return el.Value.(*cachedMeta), 0
	}
	c.misses()
	return nil, c.gen
}

// add caches cm, read from the index at generation gen, unless a drop
// happened since or it costs more than the whole bound.
func (c *metaCache) add(cm *cachedMeta, gen uint64) {
	if cm.cost > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if el, ok := c.m[cm.key]; ok {
		c.remove(el)
	}
	c.m[cm.key] = c.lru.PushFront(cm)
	c.bytes += cm.cost
	for c.bytes > c.max {
		c.remove(c.lru.Back())
	}
}

func (c *metaCache) remove(el *list.Element) {
	cm := c.lru.Remove(el).(*cachedMeta)
	delete(c.m, cm.key)
	c.bytes -= cm.cost
}

// drop forgets keys, whose records a committed transaction changed.
func (c *metaCache) drop(keys []string) {
	if len(keys) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, k := range keys {
		if el, ok := c.m[k]; ok {
			c.remove(el)
		}
	}
}

// dropKey forgets one key if cm is still what it holds for it.
func (c *metaCache) dropKey(cm *cachedMeta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if el, ok := c.m[cm.key]; ok && el.Value == cm {
		c.remove(el)
	}
}

// stats returns the records and bytes held.
func (c *metaCache) stats() (n int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m), c.bytes
}

// clear forgets everything.
func (c *metaCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
	c.lru.Init()
	c.bytes = 0
}
