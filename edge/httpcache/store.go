package httpcache

import "time"

// Store keeps entries by cache key. Implementations are safe for
// concurrent use; a stored *Entry is never modified.
type Store interface {
	Get(key string) (*Entry, bool)
	// Set stores e for at most ttl and reports whether it was admitted.
	// Once Set returns, a Get of key sees e (or a later entry), unless the
	// store refused it.
	Set(key string, e *Entry, ttl time.Duration) bool
	Delete(key string)
}
