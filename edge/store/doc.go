// Package store holds the tiers that keep cached responses: Memory (a
// byte-bounded ristretto cache). Each implements httpcache.Store.
package store
