// Package origin is the upstream side of a cache node: the HTTP transport
// to shields and origins, the choice of which upstream a fetch goes to,
// upstream health, and failover.
//
// A Pool is an ordered set of Upstreams (shields, or one site's origins)
// sharing a HealthConfig. Each Upstream is available when its active
// checks (an HTTP GET of its CheckURL every Interval; Rise passes or Fall
// failures in a row flip it) say it is healthy and passive health (the
// outcomes of real requests: MaxFails consecutive failures hold it down
// for FailBackoff, doubling up to MaxBackoff, with one probe request
// allowed after each hold-down) does not hold it down. Pool.Run performs
// the active checks with a probe.Prober (package origin/probe, which
// geodns uses too).
//
// A Router is an edge's http.RoundTripper. It ranks the shields for each
// request by rendezvous hashing (Rank) on RequestKey — host, path and
// query, not Range, so every slice of an object has the same home shield
// on every edge — tries the available shields in that order, then the
// site's origin pool (or the request's own URL), and moves on only after
// a transport error, a shield's own error (a 5xx carrying ErrorHeader) or
// an overloaded origin of a pool of several; the origin's own 5xx passed
// through a shield is an answer. Only replayable requests are sent twice.
//
// tier.go holds the contract between edges and shields: the ErrorHeader
// reasons and what each means (ClassifyReason), ErrHeaderTimeout (the
// context cause of a header timeout, counted against the upstream), and
// Fleet, the token with which edges authenticate their requests to
// shields. No other file spells a reason or the headers' names.
package origin
