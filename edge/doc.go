// Package edge is Tern's cache server: the handler that answers clients
// from the cache or from upstream, shared by edge and shield nodes. An
// edge faces clients and fetches from its shields; a shield fetches from
// the origin. Both follow RFC 9111 as a shared cache.
package edge
