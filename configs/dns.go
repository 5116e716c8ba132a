package configs

import (
	"net/netip"
	"time"
)

// DNS configures the authoritative geo-DNS: the dns nodes, the zones they
// serve, how clients are located and steered, and the edges' health checks.
type DNS struct {
	// Nodes are the dns server processes; each serves every zone.
	// Optional: without nodes the rest of this section is unused.
	Nodes []DNSNode `yaml:"nodes,omitempty"`
	// Zones are served authoritatively. Required when nodes are set.
	Zones []Zone `yaml:"zones,omitempty"`
	// TTL of geo-steered answers (short, so that failover reaches clients
	// soon). Default: 30s.
	TTL Duration `yaml:"ttl,omitempty"`
	// GeoIP lists MaxMind-format databases (City or Country) that locate
	// clients; the first that knows an address wins. A relative path is
	// taken from the working directory. Optional.
	GeoIP []string `yaml:"geoip,omitempty"`
	// Networks place networks by configuration; they beat GeoIP, and the
	// longest matching network wins. Optional.
	Networks []GeoNetwork `yaml:"networks,omitempty"`
	// Pins send the clients of countries or continents to an ordered list
	// of data centers, ahead of the nearest ones. The first pin that
	// matches wins. Optional.
	Pins []Pin `yaml:"pins,omitempty"`
	// DefaultOrder is the data center order for clients that cannot be
	// located. Default: the datacenters in file order.
	DefaultOrder []string `yaml:"default_order,omitempty"`
	// ECS sets how EDNS Client Subnet (RFC 7871) is used.
	ECS ECS `yaml:"ecs,omitempty"`
	// Health sets the active checks of every edge's admin /healthz.
	Health DNSHealth `yaml:"health,omitempty"`
	// RateLimit is response rate limiting over UDP.
	RateLimit RateLimit `yaml:"rate_limit,omitempty"`
	// TCP bounds DNS over TCP.
	TCP DNSTCP `yaml:"tcp,omitempty"`
	// UDPSockets is the number of UDP sockets bound to each listen address
	// with SO_REUSEPORT, each served by its own goroutine. Default: 0, one
	// per CPU (GOMAXPROCS).
	UDPSockets int `yaml:"udp_sockets,omitempty"`
	// UDPSize is the largest UDP response sent to an EDNS0 client, and
	// the size advertised (RFC 9715 recommends 1232). Default: 1232.
	UDPSize int `yaml:"udp_size,omitempty"`
	// AdminTokenEnv names the environment variable holding the bearer
	// token that the dns nodes' drain endpoints require, in place of
	// admin.token_env or admin.token_file. Optional: without any token,
	// drains are refused (403).
	AdminTokenEnv string `yaml:"admin_token_env,omitempty"`
}

// DNSNode is one authoritative DNS server process.
type DNSNode struct {
	// Name is the node's name for `tern run --node`. Required, unique
	// across the topology.
	Name string `yaml:"name"`
	// Listen is the DNS address, served on both UDP and TCP. Required.
	Listen Addr `yaml:"listen"`
	// Admin is the listen address of /metrics, /healthz, /readyz, /status
	// and the drain API. Required.
	Admin Addr `yaml:"admin"`
}

// Zone is one zone served authoritatively.
type Zone struct {
	// Name is the zone's apex, e.g. cdn.test. Required.
	Name string `yaml:"name"`
	// TTL of the zone's static records that do not set their own.
	// Default: 1h.
	TTL Duration `yaml:"ttl,omitempty"`
	// SOA is the zone's start of authority.
	SOA SOA `yaml:"soa,omitempty"`
	// NS are the zone's name servers; an in-zone name needs addresses
	// (served as glue). Required: at least one.
	NS []NameServer `yaml:"ns"`
	// Records are static records in zone-file syntax, names relative to
	// the zone ("@" is the apex), e.g. `static IN A 192.0.2.10` or
	// `@ 300 IN MX 10 mail.cdn.test.`. Optional.
	Records []string `yaml:"records,omitempty"`
	// Geo are the names answered with the edges of the client's nearest
	// healthy data center (A and AAAA). Optional.
	Geo []GeoName `yaml:"geo,omitempty"`
}

// SOA is a zone's start of authority record.
type SOA struct {
	// MName is the primary name server. Default: the first NS.
	MName string `yaml:"mname,omitempty"`
	// RName is the mailbox of the person responsible, as a domain name.
	// Default: hostmaster.<zone>.
	RName string `yaml:"rname,omitempty"`
	// Serial of the zone. Default: 1.
	Serial uint32 `yaml:"serial,omitempty"`
	// Refresh, Retry and Expire are for secondaries. Defaults: 1h, 15m, 1w.
	Refresh Duration `yaml:"refresh,omitempty"`
	Retry   Duration `yaml:"retry,omitempty"`
	Expire  Duration `yaml:"expire,omitempty"`
	// Minimum is the negative-caching TTL (RFC 2308). Default: 1m.
	Minimum Duration `yaml:"minimum,omitempty"`
}

// NameServer is one NS record of a zone.
type NameServer struct {
	// Name of the server, e.g. ns1.cdn.test. Required.
	Name string `yaml:"name"`
	// Addresses are its A and AAAA glue; required when Name is inside the
	// zone.
	Addresses []netip.Addr `yaml:"addresses,omitempty"`
}

// GeoName is a name steered to the nearest healthy data center.
type GeoName struct {
	// Name relative to the zone ("@" for the apex), or a full name ending
	// in the zone. Required.
	Name string `yaml:"name"`
	// Datacenters are the data centers it may answer. Default: all.
	Datacenters []string `yaml:"datacenters,omitempty"`
	// TTL of its answers. Default: dns.ttl.
	TTL Duration `yaml:"ttl,omitempty"`
}

// GeoNetwork places a network by configuration: either straight at a data
// center, or at a country, continent and/or coordinates.
type GeoNetwork struct {
	// Network is the prefix placed, e.g. 10.20.0.0/16. Required.
	Network netip.Prefix `yaml:"network"`
	// Datacenter sends the network's clients to this data center first.
	Datacenter string `yaml:"datacenter,omitempty"`
	// Country (ISO 3166-1 alpha-2) and Continent of the network.
	Country   string `yaml:"country,omitempty"`
	Continent string `yaml:"continent,omitempty"`
	// Lat and Lon locate the network (degrees); both or neither.
	Lat *float64 `yaml:"lat,omitempty"`
	Lon *float64 `yaml:"lon,omitempty"`
}

// Pin sends the clients of some countries or continents to data centers in
// a fixed order; the other data centers follow by distance.
type Pin struct {
	// Countries (ISO 3166-1 alpha-2) and Continents matched. At least one
	// of the two is required.
	Countries  []string `yaml:"countries,omitempty"`
	Continents []string `yaml:"continents,omitempty"`
	// Datacenters in the order tried. Required.
	Datacenters []string `yaml:"datacenters"`
}

// ECS sets how EDNS Client Subnet is used.
type ECS struct {
	// MaxPrefixV4 and MaxPrefixV6: longer source prefixes are cut to these
	// before lookup, so nobody sends a whole address. Defaults: 24, 56.
	MaxPrefixV4 int `yaml:"max_prefix_v4,omitempty"`
	MaxPrefixV6 int `yaml:"max_prefix_v6,omitempty"`
}

// DNSHealth sets the active checks of edges (an HTTP GET of each edge's
// admin /healthz; 2xx passes). The defaults move a region's clients in
// under 5 s after its edges die.
type DNSHealth struct {
	// Interval between checks of one edge. Default: 1s.
	Interval Duration `yaml:"interval,omitempty"`
	// Timeout of one check. Default: 1s.
	Timeout Duration `yaml:"timeout,omitempty"`
	// Rise passes bring an edge back; Fall failures take it down.
	// Defaults: 2, 2.
	Rise int `yaml:"rise,omitempty"`
	Fall int `yaml:"fall,omitempty"`
	// FlapWindow: an edge that goes down after being up for less than
	// this has flapped; each flap in a row doubles the time it is then
	// held down (from the rise time, rise × interval), and every window it
	// stays up halves its count. Default: 2m.
	FlapWindow Duration `yaml:"flap_window,omitempty"`
	// FlapHoldMax caps how long a flapping edge is held down. Default: 5m.
	FlapHoldMax Duration `yaml:"flap_hold_max,omitempty"`
}

// Flap damping defaults, documented on DNSHealth.
const (
	defaultDNSFlapWindow  = Duration(2 * time.Minute)
	defaultDNSFlapHoldMax = Duration(5 * time.Minute)
)

func (h *DNSHealth) applyFlapDefaults() {
	orDefault(&h.FlapWindow, defaultDNSFlapWindow)
	orDefault(&h.FlapHoldMax, defaultDNSFlapHoldMax)
}

// RateLimit is response rate limiting (RRL) over UDP, per client network
// and kind of response, as in NSD and BIND: a flood of identical answers to
// a spoofed source is cut, and every Slip-th cut answer is sent truncated
// so a real client retries over TCP. TCP is never limited.
type RateLimit struct {
	// ResponsesPerSecond allowed per client network and response. A
	// negative value turns rate limiting off. Default: 200.
	ResponsesPerSecond int `yaml:"responses_per_second,omitempty"`
	// Slip: every Slip-th limited response is sent truncated (TC) instead
	// of dropped; a negative value drops them all. Default: 2.
	Slip int `yaml:"slip,omitempty"`
	// IPv4Prefix and IPv6Prefix group client addresses. Defaults: 24, 56.
	IPv4Prefix int `yaml:"ipv4_prefix,omitempty"`
	IPv6Prefix int `yaml:"ipv6_prefix,omitempty"`
}

// DNSTCP bounds DNS over TCP (RFC 7766).
type DNSTCP struct {
	// MaxConnections open at once. When all are open, a new connection
	// closes the one whose last query came in longest ago, so that
	// connections kept alive by a query now and then cannot lock new
	// clients out. Default: 512.
	MaxConnections int `yaml:"max_connections,omitempty"`
	// MaxPerClient is how many of them one client network (a /24 for
	// IPv4, a /56 for IPv6) may hold, so one host cannot take them all
	// with many addresses; more are closed at once. Default: 32.
	MaxPerClient int `yaml:"max_per_client,omitempty"`
	// IdleTimeout closes a connection with no query for this long; a
	// query must also arrive whole within it. Default: 10s.
	IdleTimeout Duration `yaml:"idle_timeout,omitempty"`
}
