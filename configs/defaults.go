package configs

import (
	"net/netip"
	"strings"
	"time"
)

// Byte size units.
const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
	TiB ByteSize = 1 << 40
)

// The defaults documented on the fields of the schema (topology.go). A test
// checks that each "Default: ..." in a field's doc comment matches what
// ApplyDefaults sets.
const (
	defaultCacheMemory       = 256 * MiB
	defaultMaxObjectSize     = 16 * MiB
	defaultDiskOpenFiles     = 1024
	defaultDiskIndexCache    = 32 * MiB
	defaultUpstreamTimeout   = Duration(15 * time.Second)
	defaultIdleTimeout       = Duration(4 * time.Second)
	defaultHeuristicFraction = 0.1
	defaultHeuristicMax      = Duration(24 * time.Hour)
	defaultStaleIfError      = Duration(6 * time.Hour)
	defaultSetCookie         = "pass"
	defaultTier              = "both"
	defaultConnectTimeout    = Duration(5 * time.Second)
	defaultTotalTimeout      = Duration(10 * time.Minute)
	defaultTLSMode           = "off"
	defaultMinTLS            = "1.2"
	defaultACMEDirectory     = "https://acme-v02.api.letsencrypt.org/directory"
	defaultRenewWindow       = 0.33
	defaultRenewCheck        = Duration(10 * time.Minute)
	defaultShieldProtocol    = "h2c"
	defaultHealthInterval    = Duration(2 * time.Second)
	defaultHealthTimeout     = Duration(1 * time.Second)
	defaultHealthRise        = 2
	defaultHealthFall        = 3
	defaultHealthMaxFails    = 3
	defaultHealthFailBackoff = Duration(1 * time.Second)
	defaultSliceSize         = 1 * MiB
	defaultDNSTTL            = Duration(30 * time.Second)
	defaultZoneTTL           = Duration(time.Hour)
	defaultSOARefresh        = Duration(time.Hour)
	defaultSOARetry          = Duration(15 * time.Minute)
	defaultSOAExpire         = Duration(7 * 24 * time.Hour)
	defaultSOAMinimum        = Duration(time.Minute)
	defaultECSMaxV4          = 24
	defaultECSMaxV6          = 56
	defaultDNSCheckInterval  = Duration(time.Second)
	defaultDNSCheckTimeout   = Duration(time.Second)
	defaultDNSCheckRise      = 2
	defaultDNSCheckFall      = 2
	defaultRRLRate           = 200
	defaultRRLSlip           = 2
	defaultTCPConns          = 512
	defaultTCPIdle           = Duration(10 * time.Second)
	defaultUDPSize           = 1232
)

// ApplyDefaults sets every field left at its zero value to the default
// documented on it. It is idempotent. Parse and Load call it; a Topology
// built in Go should call it before Validate.
func (t *Topology) ApplyDefaults() {
	orDefault(&t.Cache.Memory, defaultCacheMemory)
	orDefault(&t.Cache.MaxObjectSize, defaultMaxObjectSize)
	orDefault(&t.Cache.SliceSize, defaultSliceSize)
	orDefault(&t.Cache.DiskOpenFiles, defaultDiskOpenFiles)
	orDefault(&t.Cache.DiskIndexCache, defaultDiskIndexCache)
	orDefault(&t.Upstream.Timeout, defaultUpstreamTimeout)
	orDefault(&t.Upstream.IdleTimeout, defaultIdleTimeout)
	orDefault(&t.Upstream.ConnectTimeout, defaultConnectTimeout)
	orDefault(&t.Upstream.TotalTimeout, defaultTotalTimeout)
	orDefault(&t.TLS.Mode, defaultTLSMode)
	orDefault(&t.TLS.ACME.Directory, defaultACMEDirectory)
	orDefault(&t.TLS.ACME.RenewWindow, defaultRenewWindow)
	orDefault(&t.TLS.ACME.RenewCheck, defaultRenewCheck)
	orDefault(&t.Upstream.ShieldProtocol, defaultShieldProtocol)
	hc := &t.Upstream.Health
	orDefault(&hc.Interval, defaultHealthInterval)
	orDefault(&hc.Timeout, defaultHealthTimeout)
	orDefault(&hc.Rise, defaultHealthRise)
	orDefault(&hc.Fall, defaultHealthFall)
	orDefault(&hc.MaxFails, defaultHealthMaxFails)
	orDefault(&hc.FailBackoff, defaultHealthFailBackoff)
	t.DNS.applyDefaults(t)
	t.Purge.applyDefaults()
	orDefault(&t.Server.HTTP1, "tern")
	for i := range t.Sites {
		c := &t.Sites[i].Cache
		orDefault(&c.HeuristicFraction, defaultHeuristicFraction)
		orDefault(&c.HeuristicMax, defaultHeuristicMax)
		orDefault(&c.StaleIfError, defaultStaleIfError)
		orDefault(&c.SetCookie, defaultSetCookie)
		orDefault(&c.Tier, defaultTier)
		orDefault(&t.Sites[i].HTTPS.MinVersion, defaultMinTLS)
		orDefault(&t.Sites[i].Compression.MinSize, 1*KiB)
		orDefault(&t.Sites[i].Compression.MaxSize, 16*MiB)
	}
	for i := range t.Datacenters {
		dc := &t.Datacenters[i]
		orDefault(&dc.MinEdgesUp, 1)
		for j := range dc.Edges {
			orDefault(&dc.Edges[j].Weight, 1)
		}
		for _, nodes := range [][]Node{dc.Shields, dc.Edges} {
			for j := range nodes {
				nodes[j].defaultPublic()
			}
		}
	}
	for i := range t.Origins {
		rules := t.Origins[i].Rules
		for j := range rules {
			orDefault(&rules[j].ETag, new(true))
			orDefault(&rules[j].LastModified, new(true))
		}
	}
}

func (d *DNS) applyDefaults(t *Topology) {
	orDefault(&d.TTL, defaultDNSTTL)
	orDefault(&d.ECS.MaxPrefixV4, defaultECSMaxV4)
	orDefault(&d.ECS.MaxPrefixV6, defaultECSMaxV6)
	orDefault(&d.Health.Interval, defaultDNSCheckInterval)
	orDefault(&d.Health.Timeout, defaultDNSCheckTimeout)
	orDefault(&d.Health.Rise, defaultDNSCheckRise)
	orDefault(&d.Health.Fall, defaultDNSCheckFall)
	d.Health.applyFlapDefaults()
	orDefault(&d.RateLimit.ResponsesPerSecond, defaultRRLRate)
	orDefault(&d.RateLimit.Slip, defaultRRLSlip)
	orDefault(&d.RateLimit.IPv4Prefix, defaultECSMaxV4)
	orDefault(&d.RateLimit.IPv6Prefix, defaultECSMaxV6)
	orDefault(&d.TCP.MaxConnections, defaultTCPConns)
	orDefault(&d.TCP.MaxPerClient, 32)
	orDefault(&d.TCP.IdleTimeout, defaultTCPIdle)
	orDefault(&d.UDPSize, defaultUDPSize)
	if len(d.DefaultOrder) == 0 {
		for _, dc := range t.Datacenters {
			d.DefaultOrder = append(d.DefaultOrder, dc.Name)
		}
	}
	for i := range d.Zones {
		z := &d.Zones[i]
		orDefault(&z.TTL, defaultZoneTTL)
		orDefault(&z.SOA.Serial, 1)
		orDefault(&z.SOA.Refresh, defaultSOARefresh)
		orDefault(&z.SOA.Retry, defaultSOARetry)
		orDefault(&z.SOA.Expire, defaultSOAExpire)
		orDefault(&z.SOA.Minimum, defaultSOAMinimum)
		if z.SOA.MName == "" && len(z.NS) > 0 {
			z.SOA.MName = z.NS[0].Name
		}
		if z.SOA.RName == "" && z.Name != "" {
			z.SOA.RName = "hostmaster." + strings.TrimSuffix(z.Name, ".")
		}
		for j := range z.Geo {
			orDefault(&z.Geo[j].TTL, d.TTL)
		}
	}
}

// defaultPublic sets Public to the Listen host when it is a specific IP
// address.
func (n *Node) defaultPublic() {
	if len(n.Public) > 0 {
		return
	}
	ip, err := netip.ParseAddr(n.Listen.Host())
	if err != nil || ip.IsUnspecified() {
		return
	}
	n.Public = []netip.Addr{ip.WithZone("")}
}

// orDefault sets *v to def when *v is the zero value.
func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
