package configs

import (
	"fmt"
	"math"
	"strings"

	"github.com/miekg/dns"
)

// staticTypes are the record types a zone's records may hold. SOA and apex
// NS come from their own fields; delegations below the apex are not served.
var staticTypes = map[uint16]bool{
	dns.TypeA: true, dns.TypeAAAA: true, dns.TypeCNAME: true, dns.TypeTXT: true,
	dns.TypeMX: true, dns.TypeCAA: true, dns.TypeSRV: true, dns.TypePTR: true,
	dns.TypeHTTPS: true, dns.TypeSVCB: true,
}

// Record parses z.Records[i] in zone-file syntax, with names relative to the
// zone and z.TTL for a record that sets none. The owner is lower-cased.
func (z *Zone) Record(i int) (dns.RR, error) {
	origin := dns.Fqdn(strings.ToLower(z.Name))
	zp := dns.NewZoneParser(strings.NewReader(z.Records[i]), origin, "")
	zp.SetDefaultTTL(uint32(z.TTL.D().Seconds()))
	rr, ok := zp.Next()
	if err := zp.Err(); err != nil {
		// The parser's message carries its own file:line of the string.
		msg := err.Error()
		if _, after, found := strings.Cut(msg, "dns: "); found {
			msg = after
		}
		return nil, fmt.Errorf("%s", msg)
	}
	if !ok {
		return nil, fmt.Errorf("no record")
	}
	if _, more := zp.Next(); more {
		return nil, fmt.Errorf("one record per entry")
	}
	rr.Header().Name = strings.ToLower(rr.Header().Name)
	return rr, nil
}

// Fqdn returns a name of the zone as a lower-case fully qualified name:
// "@" is the apex, a name ending in a dot is taken as it is, any other is
// relative to the zone.
func (z *Zone) Fqdn(name string) string {
	origin := dns.Fqdn(strings.ToLower(z.Name))
	name = strings.ToLower(name)
	switch {
	case name == "@" || name == "":
		return origin
	case strings.HasSuffix(name, "."):
		return name
	case dns.IsSubDomain(origin, dns.Fqdn(name)):
		// "www.cdn.test" in zone cdn.test: already full.
		return dns.Fqdn(name)
	}
	return name + "." + origin
}

func (v *validator) dns(t *Topology) {
	d := &t.DNS
	for i := range d.Nodes {
		p := fmt.Sprintf("dns.nodes[%d]", i)
		v.unique(p, d.Nodes[i].Name, "node")
		v.listen(p+".listen", d.Nodes[i].Listen, true)
		v.listen(p+".admin", d.Nodes[i].Admin, true)
	}
	if len(d.Nodes) > 0 && len(d.Zones) == 0 {
		v.errs.add("dns.zones", "dns nodes need at least one zone")
	}
	dcs := map[string]*Datacenter{}
	for i := range t.Datacenters {
		dcs[t.Datacenters[i].Name] = &t.Datacenters[i]
	}
	knownDC := func(p, name string) {
		if _, ok := dcs[name]; !ok {
			v.errs.add(p, "no datacenter named %q", name)
		}
	}
	for i, dc := range t.Datacenters {
		if dc.MinEdgesUp < 1 || dc.MinEdgesUp > max(len(dc.Edges), 1) {
			v.errs.add(fmt.Sprintf("datacenters[%d].min_edges_up", i), "%d is outside [1, %d edges]", dc.MinEdgesUp, len(dc.Edges))
		}
		for j, n := range dc.Edges {
			if n.Weight < 1 || n.Weight > 100 {
				v.errs.add(fmt.Sprintf("datacenters[%d].edges[%d].weight", i, j), "%d is outside [1, 100]", n.Weight)
			}
		}
		for j, n := range dc.Shields {
			if n.Weight != 0 {
				v.errs.add(fmt.Sprintf("datacenters[%d].shields[%d].weight", i, j), "only edges are answered by DNS")
			}
		}
	}
	apexes := map[string]string{}
	for i := range d.Zones {
		v.zone(fmt.Sprintf("dns.zones[%d]", i), &d.Zones[i], apexes, knownDC)
	}
	for i, n := range d.Networks {
		p := fmt.Sprintf("dns.networks[%d]", i)
		switch {
		case !n.Network.IsValid():
			v.errs.add(p+".network", missing)
		case n.Network != n.Network.Masked():
			v.errs.add(p+".network", "%s has bits set past the prefix length; the network is %s", n.Network, n.Network.Masked())
		}
		if n.Datacenter != "" {
			knownDC(p+".datacenter", n.Datacenter)
		}
		v.country(p+".country", n.Country)
		v.continent(p+".continent", n.Continent)
		if (n.Lat == nil) != (n.Lon == nil) {
			v.errs.add(p+".lat", "lat and lon go together")
		}
		if n.Lat != nil && (math.IsNaN(*n.Lat) || *n.Lat < -90 || *n.Lat > 90) {
			v.errs.add(p+".lat", "latitude %v is outside [-90, 90]", *n.Lat)
		}
		if n.Lon != nil && (math.IsNaN(*n.Lon) || *n.Lon < -180 || *n.Lon > 180) {
			v.errs.add(p+".lon", "longitude %v is outside [-180, 180]", *n.Lon)
		}
		if n.Datacenter == "" && n.Country == "" && n.Continent == "" && n.Lat == nil {
			v.errs.add(p, "a network needs a datacenter, a country, a continent or lat/lon")
		}
	}
	for i, pin := range d.Pins {
		p := fmt.Sprintf("dns.pins[%d]", i)
		if len(pin.Countries) == 0 && len(pin.Continents) == 0 {
			v.errs.add(p, "a pin needs countries or continents")
		}
		for j, c := range pin.Countries {
			v.country(fmt.Sprintf("%s.countries[%d]", p, j), c)
		}
		for j, c := range pin.Continents {
			v.continent(fmt.Sprintf("%s.continents[%d]", p, j), c)
		}
		if len(pin.Datacenters) == 0 {
			v.errs.add(p+".datacenters", missing)
		}
		for j, name := range pin.Datacenters {
			knownDC(fmt.Sprintf("%s.datacenters[%d]", p, j), name)
		}
	}
	seen := map[string]bool{}
	for i, name := range d.DefaultOrder {
		p := fmt.Sprintf("dns.default_order[%d]", i)
		knownDC(p, name)
		if seen[name] {
			v.errs.add(p, "%q is listed twice", name)
		}
		seen[name] = true
	}
	if n := d.ECS.MaxPrefixV4; n < 1 || n > 32 {
		v.errs.add("dns.ecs.max_prefix_v4", "%d is outside [1, 32]", n)
	}
	if n := d.ECS.MaxPrefixV6; n < 1 || n > 128 {
		v.errs.add("dns.ecs.max_prefix_v6", "%d is outside [1, 128]", n)
	}
	if n := d.RateLimit.IPv4Prefix; n < 1 || n > 32 {
		v.errs.add("dns.rate_limit.ipv4_prefix", "%d is outside [1, 32]", n)
	}
	if n := d.RateLimit.IPv6Prefix; n < 1 || n > 128 {
		v.errs.add("dns.rate_limit.ipv6_prefix", "%d is outside [1, 128]", n)
	}
	if d.Health.Rise < 1 || d.Health.Rise > 100 {
		v.errs.add("dns.health.rise", "%d is outside [1, 100]", d.Health.Rise)
	}
	if d.Health.Fall < 1 || d.Health.Fall > 100 {
		v.errs.add("dns.health.fall", "%d is outside [1, 100]", d.Health.Fall)
	}
	if d.Health.Interval <= 0 {
		v.errs.add("dns.health.interval", "must be positive")
	}
	if d.Health.Timeout <= 0 {
		v.errs.add("dns.health.timeout", "must be positive")
	}
	if d.Health.FlapWindow <= 0 {
		v.errs.add("dns.health.flap_window", "must be positive")
	}
	if d.Health.FlapHoldMax <= 0 {
		v.errs.add("dns.health.flap_hold_max", "must be positive")
	}
	if d.TCP.MaxConnections < 1 {
		v.errs.add("dns.tcp.max_connections", "%d must be at least 1", d.TCP.MaxConnections)
	}
	if d.TCP.MaxPerClient < 1 {
		v.errs.add("dns.tcp.max_per_client", "%d must be at least 1", d.TCP.MaxPerClient)
	}
	if d.TCP.IdleTimeout <= 0 {
		v.errs.add("dns.tcp.idle_timeout", "must be positive")
	}
	if d.UDPSize < 512 || d.UDPSize > 4096 {
		v.errs.add("dns.udp_size", "%d is outside [512, 4096]", d.UDPSize)
	}
	if d.UDPSockets < 0 || d.UDPSockets > 256 {
		v.errs.add("dns.udp_sockets", "%d is outside [0, 256]", d.UDPSockets)
	}
	if d.TTL <= 0 {
		v.errs.add("dns.ttl", "must be positive")
	}
}

func (v *validator) zone(p string, z *Zone, apexes map[string]string, knownDC func(p, name string)) {
	if z.Name == "" {
		v.errs.add(p+".name", missing)
		return
	}
	if _, ok := dns.IsDomainName(z.Name); !ok || strings.HasPrefix(z.Name, ".") {
		v.errs.add(p+".name", "%q is not a domain name", z.Name)
		return
	}
	origin := z.Fqdn("@")
	if prev, dup := apexes[origin]; dup {
		v.errs.add(p+".name", "zone %s is also %s", origin, prev)
	}
	apexes[origin] = p
	if len(z.NS) == 0 {
		v.errs.add(p+".ns", "a zone needs at least one name server")
	}
	for i, ns := range z.NS {
		np := fmt.Sprintf("%s.ns[%d]", p, i)
		if _, ok := dns.IsDomainName(ns.Name); ns.Name == "" || !ok {
			v.errs.add(np+".name", "%q is not a domain name", ns.Name)
			continue
		}
		if dns.IsSubDomain(origin, dns.Fqdn(strings.ToLower(ns.Name))) && len(ns.Addresses) == 0 {
			v.errs.add(np+".addresses", "%s is inside the zone: give its addresses (glue)", ns.Name)
		}
	}
	for _, f := range []struct{ name, value string }{{"mname", z.SOA.MName}, {"rname", z.SOA.RName}} {
		if _, ok := dns.IsDomainName(f.value); f.value != "" && !ok {
			v.errs.add(p+".soa."+f.name, "%q is not a domain name", f.value)
		}
	}
	// Owners of static data by type, to find CNAME conflicts and clashes
	// with geo names.
	owners := map[string]map[uint16]bool{}
	for i := range z.Records {
		rp := fmt.Sprintf("%s.records[%d]", p, i)
		rr, err := z.Record(i)
		if err != nil {
			v.errs.add(rp, "%v", err)
			continue
		}
		h := rr.Header()
		switch {
		case !dns.IsSubDomain(origin, h.Name):
			v.errs.add(rp, "%s is outside the zone %s", h.Name, origin)
			continue
		case h.Rrtype == dns.TypeNS || h.Rrtype == dns.TypeSOA:
			v.errs.add(rp, "%s records come from the zone's ns and soa fields; delegations are not served", dns.TypeToString[h.Rrtype])
			continue
		case !staticTypes[h.Rrtype]:
			v.errs.add(rp, "type %s is not served", dns.TypeToString[h.Rrtype])
			continue
		case strings.HasPrefix(h.Name, "*."):
			v.errs.add(rp, "wildcard names are not served")
			continue
		case h.Class != dns.ClassINET:
			v.errs.add(rp, "class %s is not served", dns.ClassToString[h.Class])
			continue
		case h.Rrtype == dns.TypeCNAME && h.Name == origin:
			v.errs.add(rp, "a CNAME cannot be at the zone apex")
			continue
		}
		types := owners[h.Name]
		if types == nil {
			types = map[uint16]bool{}
			owners[h.Name] = types
		}
		if types[dns.TypeCNAME] || (h.Rrtype == dns.TypeCNAME && len(types) > 0) {
			v.errs.add(rp, "%s has a CNAME and other data", h.Name)
		}
		types[h.Rrtype] = true
	}
	geo := map[string]bool{}
	for i, g := range z.Geo {
		gp := fmt.Sprintf("%s.geo[%d]", p, i)
		if g.Name == "" {
			v.errs.add(gp+".name", missing)
			continue
		}
		name := z.Fqdn(g.Name)
		if _, ok := dns.IsDomainName(name); !ok || !dns.IsSubDomain(origin, name) {
			v.errs.add(gp+".name", "%q is not a name inside the zone %s", g.Name, origin)
			continue
		}
		if geo[name] {
			v.errs.add(gp+".name", "%s is steered twice", name)
		}
		geo[name] = true
		if t := owners[name]; t[dns.TypeA] || t[dns.TypeAAAA] || t[dns.TypeCNAME] {
			v.errs.add(gp+".name", "%s also has static A, AAAA or CNAME records", name)
		}
		for j, dc := range g.Datacenters {
			knownDC(fmt.Sprintf("%s.datacenters[%d]", gp, j), dc)
		}
		if g.TTL <= 0 {
			v.errs.add(gp+".ttl", "must be positive")
		}
	}
}

func (v *validator) country(p, c string) {
	if c != "" && (len(c) != 2 || strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "") {
		v.errs.add(p, "%q is not an ISO 3166-1 alpha-2 code (two upper-case letters)", c)
	}
}

func (v *validator) continent(p, c string) {
	if c != "" && !continents[c] {
		v.errs.add(p, "%q is not one of AF, AN, AS, EU, NA, OC, SA", c)
	}
}
