// Package geodns will hold Tern's authoritative geo-DNS server: it answers
// each resolver with the addresses of the nearest healthy data center and
// fails a region over when its health checks fail. Not built yet: see the
// issue tracker.
package geodns
