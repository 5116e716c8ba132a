// Package origin is the upstream side of a cache node: the HTTP transport
// to origins and shields, and the choice of which upstream a fetch goes to.
package origin
