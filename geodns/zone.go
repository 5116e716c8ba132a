package geodns

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/tern-cdn/tern/configs"
)

// Zone is one zone's data, ready to answer from. Names are lower-case and
// fully qualified.
type Zone struct {
	Origin    string
	originKey []byte // Origin's bytes, for rate limiting without allocation
	soa       *dns.SOA
	names     map[string]*Name
}

// Name is one owner name of a zone: its static RRsets, and its steering
// when it is a geo name. A Name with neither exists as an empty
// non-terminal (NODATA, not NXDOMAIN).
type Name struct {
	Owner  string
	rrsets map[uint16][]dns.RR
	geo    *GeoName
	// static holds the prepared wire answers that do not depend on the
	// client, by qtype (set by the Responder).
	static map[uint16][]byte
}

// GeoName is a name answered with the edges of the client's data center.
type GeoName struct {
	Owner   string
	TTL     uint32
	allowed []bool // by data center index

	// answers is rebuilt whenever health changes.
	answers atomic.Pointer[geoAnswers]
}

// Edge is an edge as DNS hands it out.
type Edge struct {
	Name       string
	Datacenter int // index into the Selector's data centers
	Weight     int
	Addrs      []netip.Addr
}

// CompileZone builds a zone from its configuration. dcs maps data center
// names to the Selector's indexes. The config must have been validated.
func CompileZone(cz *configs.Zone, dcs map[string]int) (*Zone, error) {
	z := &Zone{Origin: cz.Fqdn("@"), names: map[string]*Name{}}
	z.originKey = []byte(z.Origin)
	ttl := uint32(cz.TTL.D().Seconds())
	z.soa = &dns.SOA{
		Hdr:     dns.RR_Header{Name: z.Origin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:      dns.Fqdn(strings.ToLower(cz.SOA.MName)),
		Mbox:    dns.Fqdn(strings.ToLower(cz.SOA.RName)),
		Serial:  cz.SOA.Serial,
		Refresh: uint32(cz.SOA.Refresh.D().Seconds()),
		Retry:   uint32(cz.SOA.Retry.D().Seconds()),
		Expire:  uint32(cz.SOA.Expire.D().Seconds()),
		Minttl:  uint32(cz.SOA.Minimum.D().Seconds()),
	}
	z.add(z.soa)
	for _, ns := range cz.NS {
		host := dns.Fqdn(strings.ToLower(ns.Name))
		z.add(&dns.NS{Hdr: dns.RR_Header{Name: z.Origin, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: ttl}, Ns: host})
		if !dns.IsSubDomain(z.Origin, host) {
			continue
		}
		for _, a := range ns.Addresses {
			z.add(addrRR(host, ttl, a))
		}
	}
	for i := range cz.Records {
		rr, err := cz.Record(i)
		if err != nil {
			return nil, fmt.Errorf("zone %s: record %d: %w", z.Origin, i, err)
		}
		z.add(rr)
	}
	for _, g := range cz.Geo {
		owner := cz.Fqdn(g.Name)
		gn := &GeoName{Owner: owner, TTL: uint32(g.TTL.D().Seconds()), allowed: make([]bool, len(dcs))}
		for name, i := range dcs {
			gn.allowed[i] = len(g.Datacenters) == 0 || slices.Contains(g.Datacenters, name)
		}
		z.name(owner).geo = gn
	}
	return z, nil
}

// Geo returns the zone's geo names.
func (z *Zone) Geo() []*GeoName {
	var gs []*GeoName
	for _, n := range z.names {
		if n.geo != nil {
			gs = append(gs, n.geo)
		}
	}
	slices.SortFunc(gs, func(a, b *GeoName) int { return strings.Compare(a.Owner, b.Owner) })
	return gs
}

func (z *Zone) add(rr dns.RR) {
	h := rr.Header()
	n := z.name(h.Name)
	n.rrsets[h.Rrtype] = append(n.rrsets[h.Rrtype], rr)
}

// name returns the Name for owner, creating it and the empty non-terminals
// between it and the apex.
func (z *Zone) name(owner string) *Name {
	if n, ok := z.names[owner]; ok {
		return n
	}
	n := &Name{Owner: owner, rrsets: map[uint16][]dns.RR{}}
	z.names[owner] = n
	if owner != z.Origin {
		// The parent by labels: dns.Split knows escaped dots.
		if idx := dns.Split(owner); len(idx) > 1 {
			z.name(owner[idx[1]:])
		}
	}
	return n
}

// negativeSOA is the SOA sent in the authority section of NXDOMAIN and
// NODATA answers: its TTL is the smaller of the SOA's TTL and its MINIMUM
// (RFC 2308 §3).
func (z *Zone) negativeSOA() dns.RR {
	soa := *z.soa
	soa.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl)
	return &soa
}

func addrRR(owner string, ttl uint32, a netip.Addr) dns.RR {
	if a.Is4() {
		return &dns.A{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: a.AsSlice()}
	}
	return &dns.AAAA{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: ttl}, AAAA: a.AsSlice()}
}
