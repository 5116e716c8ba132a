// Package store holds the tiers that keep cached responses. Each
// implements httpcache.Store:
//
//   - Memory, a byte-bounded ristretto cache for hot objects;
//   - Disk, a persistent, crash-safe, byte-bounded cache: bodies in plain
//     files (served with sendfile through httpcache.FileBody), metadata in
//     a bbolt index, kept across restarts, evicted by approximate LRU.
//
// README.md describes the disk tier's layout on disk, why it survives a
// crash, and how it evicts.
package store
