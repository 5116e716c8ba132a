// Package geodns is Tern's authoritative geo-DNS server. It answers each
// resolver with the addresses of the edges of the nearest healthy data
// center, and moves a region's clients to the next nearest within seconds of
// its health checks failing.
//
// A Server reads queries off UDP sockets (SO_REUSEPORT, one per CPU) and TCP
// connections and hands their bytes to a Responder. The Responder answers
// common queries from prepared wire responses, patched with the query's ID,
// flags, question case and OPT record, and everything else (errors,
// negative answers, truncation) through miekg/dns messages. A Locator places
// the client (EDNS Client Subnet, else the resolver's address) with MaxMind
// databases and CIDR overrides; a Selector ranks the data centers for that
// place (override, pins, great-circle distance, default order); Health
// checks every edge's /healthz and holds operator drains; a RateLimiter
// limits UDP responses per client network. Node wires them from a topology.
package geodns
