// Package edge is Tern's cache server: the handler that answers clients
// from the cache or from upstream, shared by edge and shield nodes. An
// edge faces clients and fetches from its shields; a shield fetches from
// the origin. Both follow RFC 9111 as a shared cache.
//
// Names: code is an HTTP status code (outcome.code, errorCode); a
// cacheStatus is a Cache-Status field value (this cache's, or
// upstreamCacheStatus, the caches' upstream); a stored entry's status
// code is httpcache.Entry.Status.
package edge
