package httpcache

import "sync/atomic"

// A Memo holds two header values derived from an entry each time it is
// served (the edge's Cache-Status and Age), so that the many hits of one
// second share one formatting and one allocation instead of making their
// own. Its Fields are shared by those hits: they are read-only, and have
// no spare capacity, so an append makes a copy.
type Memo struct {
	owner  *Entry
	key    [2]int64
	vals   [2]string
	Fields [2][]string
}

// memoSlot is where an entry keeps its latest Memo. Entries copied by
// value (a soft-purged copy, say) share the slot, which is why a Memo
// records its owner.
type memoSlot struct {
	p    atomic.Pointer[Memo]
	keys atomic.Pointer[derivedKeys]
}

// derivedKeys are keys made from the key an entry is stored under (the
// edge's keys of its compressed variants), by tag.
type derivedKeys struct {
	owner *Entry
	base  string
	tags  []string
	keys  []string
}

// maxDerivedKeys bounds what an entry remembers; more are made each time.
const maxDerivedKeys = 4

// EnableMemo gives e a slot for Memos; entries without one (literals in
// tests, markers) simply never memoize.
func (e *Entry) EnableMemo() { e.memo = new(memoSlot) }

// Memoized returns the Memo stored for key (whatever the caller derives
// its values from: whole seconds of age and freshness, say), or nil.
func (e *Entry) Memoized(key [2]int64) *Memo {
	if e.memo == nil {
		return nil
	}
	m := e.memo.p.Load()
	if m == nil || m.owner != e || m.key != key {
		return nil
	}
	return m
}

// Memoize returns a Memo of a and b under key, kept for the next
// Memoized(key) when e has a slot.
func (e *Entry) Memoize(key [2]int64, a, b string) *Memo {
	m := &Memo{owner: e, key: key, vals: [2]string{a, b}}
	m.Fields = [2][]string{m.vals[0:1:1], m.vals[1:2:2]}
	if e.memo != nil {
		e.memo.p.Store(m)
	}
	return m
}

// DerivedKey returns the key stored by SetDerivedKey for the entry under
// base and tag, if any.
func (e *Entry) DerivedKey(base, tag string) (string, bool) {
	if e.memo == nil {
		return "", false
	}
	d := e.memo.keys.Load()
	if d == nil || d.owner != e || d.base != base {
		return "", false
	}
	for i, t := range d.tags {
		if t == tag {
			return d.keys[i], true
		}
	}
	return "", false
}

// SetDerivedKey remembers key as the one derived from base for tag, so a
// hit need not build it again.
func (e *Entry) SetDerivedKey(base, tag, key string) {
	if e.memo == nil {
		return
	}
	old := e.memo.keys.Load()
	d := &derivedKeys{owner: e, base: base}
	if old != nil && old.owner == e && old.base == base {
		if len(old.tags) >= maxDerivedKeys {
			return
		}
		d.tags, d.keys = append(d.tags, old.tags...), append(d.keys, old.keys...)
	}
	d.tags, d.keys = append(d.tags, tag), append(d.keys, key)
	// A concurrent Set may win: the key is then made again, no harm.
	e.memo.keys.CompareAndSwap(old, d)
}
