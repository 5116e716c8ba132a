// Package edge is Tern's cache server: the handler that answers clients
// from the cache or from upstream, shared by edge and shield nodes. An
// edge faces clients and fetches from its shields; a shield fetches from
// the origin. Both follow RFC 9111 as a shared cache. Request collapsing
// and slices live here because they are cache behaviour; certificates are
// the package edge/tlscert.
//
// edge is a library configured by Config: it imports no other role and
// builds no node. The node assembly, cmd/tern/node, translates the
// topology into Config, binds the listeners and serves each node's one
// admin server.
//
// Names: code is an HTTP status code (outcome.code, errorCode); a
// cacheStatus is a Cache-Status field value (this cache's, or
// upstreamCacheStatus, the caches' upstream); a stored entry's status
// code is httpcache.Entry.Status.
package edge
