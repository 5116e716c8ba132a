// Package httpcache holds the rules of a shared HTTP cache (RFC 9111, with
// RFC 9213 targeted fields and RFC 5861 stale extensions) and the stores
// that keep cached responses. It does no network I/O: the edge handler asks
// it whether a response may be stored, how long it stays fresh, how old a
// stored response is, and where to keep it.
package httpcache
