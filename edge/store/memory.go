package store

import (
	"fmt"
	"time"

	"github.com/dgraph-io/ristretto/v2"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// Memory is the memory tier: a ristretto cache whose cost is bytes, so
// MaxBytes is a hard bound on what it holds. Its admission policy
// (TinyLFU) may refuse a new entry when that would evict hotter ones.
type Memory struct {
	c    *ristretto.Cache[string, *httpcache.Entry]
	max  int64
	tags *memTags
}

// NewMemory returns a memory store holding at most maxBytes.
func NewMemory(maxBytes int64) (*Memory, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("store: memory store size must be positive, got %d", maxBytes)
	}
	// About one counter per 10 KiB object, times ten as ristretto advises,
	// within sane bounds.
	counters := min(max(maxBytes/1024, 1000), 50_000_000)
	tags := newMemTags()
	c, err := ristretto.NewCache(&ristretto.Config[string, *httpcache.Entry]{
		NumCounters:        counters,
		MaxCost:            maxBytes,
		BufferItems:        64,
		IgnoreInternalCost: true,
		Metrics:            true,
		Cost:               func(e *httpcache.Entry) int64 { return e.Cost() },
		OnExit:             tags.remove,
	})
	if err != nil {
		return nil, fmt.Errorf("store: new memory store: %w", err)
	}
	return &Memory{c: c, max: maxBytes, tags: tags}, nil
}

// Get returns the entry under key.
func (m *Memory) Get(key string) (*httpcache.Entry, bool) { return m.c.Get(key) }

// Set stores e under key for ttl and waits until the write is applied, so
// the next Get sees it: a request that arrives just after a fill must hit,
// not start another upstream fetch.
func (m *Memory) Set(key string, e *httpcache.Entry, ttl time.Duration) bool {
	cost := e.Cost()
	if ttl <= 0 || cost > m.max {
		return false
	}
	// ristretto applies the cost of an update to a stored key without
	// evicting anything, which would break the byte bound: delete the old
	// entry first so the new one is admitted, and makes room, like any
	// other. The delete is queued before the set, so it cannot remove it.
	m.c.Del(key)
	// Indexed before ristretto has it, so that OnExit, whenever the entry
	// leaves, finds it to remove.
	m.tags.add(key, e)
	ok := m.c.SetWithTTL(key, e, cost, ttl)
	m.c.Wait()
	if !ok {
		m.tags.remove(e) // dropped before ristretto saw it: no OnExit
		return false
	}
	_, ok = m.c.Get(key)
	return ok
}

// Delete removes the entry under key.
func (m *Memory) Delete(key string) { m.c.Del(key) }

// Bytes is the cost of what the store holds now.
func (m *Memory) Bytes() int64 { return m.c.MaxCost() - m.c.RemainingCost() }

// MaxBytes is the store's budget.
func (m *Memory) MaxBytes() int64 { return m.max }

// Objects approximates the number of stored entries: admitted minus
// evicted (ristretto counts a deleted or expired key as evicted).
func (m *Memory) Objects() int64 {
	mt := m.c.Metrics
	return int64(mt.KeysAdded()) - int64(mt.KeysEvicted())
}

// Close stops the store's goroutines.
func (m *Memory) Close() { m.c.Close() }
