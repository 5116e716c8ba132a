package store

import (
	"sync"

	"github.com/tern-cdn/tern/edge/httpcache"
)

// memTags indexes the memory tier's tagged entries by surrogate key, so a
// tag purge touches only the entries that carry the tag. It is kept by
// Set (before the entry reaches ristretto) and by ristretto's OnExit,
// which fires for every way an entry leaves: Delete, replacement,
// eviction, expiry, refused admission. Entries are known by pointer,
// since OnExit gives the value and not the key; an Entry is stored under
// one key (Tiered promotes a copy).
//
// Only tagged entries are indexed: about 100 bytes per entry plus 50 per
// tag it carries (the key string, which ristretto itself does not keep,
// and the map slots).
type memTags struct {
	mu    sync.Mutex
	keyOf map[*httpcache.Entry]string
	byTag map[string]map[*httpcache.Entry]struct{}
}

func newMemTags() *memTags {
	return &memTags{keyOf: map[*httpcache.Entry]string{}, byTag: map[string]map[*httpcache.Entry]struct{}{}}
}

func (t *memTags) add(key string, e *httpcache.Entry) {
	if len(e.SurrogateKeys) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.keyOf[e] = key
	for _, tag := range e.SurrogateKeys {
		s := t.byTag[tag]
		if s == nil {
			s = map[*httpcache.Entry]struct{}{}
			t.byTag[tag] = s
		}
		s[e] = struct{}{}
	}
}

// remove forgets e; ristretto calls it with nil for a key it did not have.
func (t *memTags) remove(e *httpcache.Entry) {
	if e == nil || len(e.SurrogateKeys) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.keyOf[e]; !ok {
		return
	}
	delete(t.keyOf, e)
	for _, tag := range e.SurrogateKeys {
		s := t.byTag[tag]
		delete(s, e)
		if len(s) == 0 {
			delete(t.byTag, tag)
		}
	}
}

// keys returns the keys of the entries carrying tag.
func (t *memTags) keys(tag string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.byTag[tag]
	keys := make([]string, 0, len(s))
	for e := range s {
		keys = append(keys, t.keyOf[e])
	}
	return keys
}

// DeleteTag removes every entry that carries tag and whose key match
// accepts (nil: every key), and returns how many it removed. Its cost is
// in proportion to the entries carrying the tag. An entry stored under
// one of those keys while it runs may be removed too (a miss, never a
// stale hit).
func (m *Memory) DeleteTag(tag string, match func(key string) bool) int {
	n := 0
	for _, k := range m.tags.keys(tag) {
		if match == nil || match(k) {
			// Del calls OnExit synchronously, which updates the index:
			// keys took its lock and released it.
			m.c.Del(k)
			n++
		}
	}
	return n
}
