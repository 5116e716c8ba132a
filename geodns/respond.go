package geodns

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Responder answers queries for a set of zones. The common queries (a name
// that exists, a plain question, at most an OPT) are answered from
// prepared wire responses patched with the query's ID, flags, question case
// and OPT; everything else goes through dns.Msg. Safe for concurrent use.
type Responder struct {
	zones []*Zone // longest origin first
	loc   *Locator
	sel   *Selector
	edges [][]Edge // by data center
	names []string // data center names

	ecsMax4, ecsMax6 uint8
	udpSize          uint16
	uncheckedTTL     uint32

	log    *slog.Logger
	scopes scopeCache

	mu       sync.Mutex // serializes Rebuild
	failOpen map[string]bool
}

// ResponderConfig is what a Responder is built from.
type ResponderConfig struct {
	Zones    []*Zone
	Locator  *Locator
	Selector *Selector
	// Edges lists each data center's edges (index = data center index).
	Edges [][]Edge
	// ECSMaxV4 and ECSMaxV6 cut longer ECS source prefixes. Defaults 24, 56.
	ECSMaxV4, ECSMaxV6 int
	// UDPSize is the largest UDP response to an EDNS0 client. Default 1232.
	UDPSize int
	// UncheckedTTL is the TTL of geo answers that an edge not checked
	// yet could change (just after a start; see Rebuild), so that
	// resolvers ask again once it is. Rounded up to seconds, at most the
	// name's TTL. Default 1s.
	UncheckedTTL time.Duration
	Logger       *slog.Logger
}

// HealthView tells which edges and data centers may be answered, and
// which are not known yet (HealthState has the meanings).
type HealthView interface {
	EdgeUsable(name string) bool
	EdgeUnchecked(name string) bool
	DatacenterUp(name string) bool
	DatacenterUnchecked(name string) bool
}

// NewResponder prepares the answers of every zone, with every edge
// unchecked (short TTLs) until the first Rebuild.
func NewResponder(cfg ResponderConfig) (*Responder, error) {
	r := &Responder{
		zones:        slices.Clone(cfg.Zones),
		loc:          cfg.Locator,
		sel:          cfg.Selector,
		edges:        cfg.Edges,
		names:        cfg.Selector.names(),
		ecsMax4:      uint8(cmp.Or(cfg.ECSMaxV4, 24)),
		ecsMax6:      uint8(cmp.Or(cfg.ECSMaxV6, 56)),
		udpSize:      uint16(cmp.Or(cfg.UDPSize, 1232)),
		uncheckedTTL: uint32(max(1, (cmp.Or(cfg.UncheckedTTL, time.Second)+time.Second-1)/time.Second)),
		log:          cfg.Logger,
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if len(r.edges) != len(r.names) {
		return nil, fmt.Errorf("responder: %d edge lists for %d data centers", len(r.edges), len(r.names))
	}
	slices.SortFunc(r.zones, func(a, b *Zone) int { return len(b.Origin) - len(a.Origin) })
	r.Rebuild(allUnchecked{})
	for _, z := range r.zones {
		for _, n := range z.names {
			r.prepareStatic(z, n)
		}
	}
	return r, nil
}

// prepareStatic keeps the wire answers of a name for every type it can be
// asked about that does not depend on the client.
func (r *Responder) prepareStatic(z *Zone, n *Name) {
	owner := n.Owner
	types := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeCNAME, dns.TypeTXT, dns.TypeMX, dns.TypeNS,
		dns.TypeSOA, dns.TypeCAA, dns.TypeSRV, dns.TypePTR, dns.TypeHTTPS, dns.TypeSVCB}
	for _, qtype := range types {
		m := r.prepared(owner, qtype)
		geo := false
		r.resolve(m, z, owner, qtype, func(*GeoName) ([]netip.Addr, uint32) { geo = true; return nil, 0 })
		if geo {
			continue
		}
		wire, err := m.Pack()
		if err != nil {
			continue
		}
		if n.static == nil {
			n.static = map[uint16][]byte{}
		}
		n.static[qtype] = wire
	}
}

// prepared starts a response to a plain question, for preparing.
func (r *Responder) prepared(owner string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.Response, m.Authoritative = true, true
	m.Question = []dns.Question{{Name: owner, Qtype: qtype, Qclass: dns.ClassINET}}
	m.Compress = true
	return m
}

// zoneOf returns the zone that holds name (lower-case, fully qualified).
func (r *Responder) zoneOf(name string) *Zone {
	for _, z := range r.zones {
		// IsSubDomain compares labels, so an escaped dot ("a\.cdn.test.")
		// is not a label boundary.
		if dns.IsSubDomain(z.Origin, name) {
			return z
		}
	}
	return nil
}

// zoneOfBytes is zoneOf for the fast path's name bytes.
func (r *Responder) zoneOfBytes(name []byte) *Zone {
	for _, z := range r.zones {
		n, o := len(name), len(z.Origin)
		if n == o && string(name) == z.Origin {
			return z
		}
		if n > o && string(name[n-o:]) == z.Origin && name[n-o-1] == '.' {
			return z
		}
	}
	return nil
}

// geoAddrs gives the addresses answered for a geo name and qtype, and
// their TTL.
type geoAddrs func(g *GeoName) ([]netip.Addr, uint32)

// resolve fills m's rcode and sections for qname (lower-case) and qtype in
// zone z: CNAMEs are followed inside the served zones (at most 8), missing
// names get NXDOMAIN and missing types NODATA, both with the SOA.
func (r *Responder) resolve(m *dns.Msg, z *Zone, qname string, qtype uint16, geo geoAddrs) {
	name := qname
	for range 8 {
		n := z.names[name]
		if n == nil {
			m.Rcode = dns.RcodeNameError
			m.Ns = append(m.Ns, z.negativeSOA())
			return
		}
		if qtype == dns.TypeANY {
			// RFC 8482 §4.2: one synthesized HINFO instead of everything.
			m.Answer = append(m.Answer, &dns.HINFO{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: z.soa.Hdr.Ttl}, Cpu: "RFC8482"})
			return
		}
		if cname := n.rrsets[dns.TypeCNAME]; len(cname) > 0 && qtype != dns.TypeCNAME {
			m.Answer = append(m.Answer, cname...)
			target := strings.ToLower(cname[0].(*dns.CNAME).Target)
			if z = r.zoneOf(target); z == nil {
				return // outside our zones: the resolver follows it
			}
			name = target
			continue
		}
		var rrs []dns.RR
		if n.geo != nil && qtypeIndex(qtype) >= 0 {
			addrs, ttl := geo(n.geo)
			for _, a := range addrs {
				rrs = append(rrs, addrRR(name, ttl, a))
			}
		} else {
			rrs = n.rrsets[qtype]
		}
		if len(rrs) == 0 {
			m.Ns = append(m.Ns, z.negativeSOA())
			return
		}
		m.Answer = append(m.Answer, rrs...)
		if qtype == dns.TypeNS {
			for _, rr := range rrs {
				host := rr.(*dns.NS).Ns
				if hz := r.zoneOf(host); hz != nil {
					if hn := hz.names[host]; hn != nil {
						m.Extra = append(m.Extra, hn.rrsets[dns.TypeA]...)
						m.Extra = append(m.Extra, hn.rrsets[dns.TypeAAAA]...)
					}
				}
			}
		}
		return
	}
	// A CNAME chain longer than 8: answer what was followed.
}

// result describes a response for metrics and rate limiting.
type result struct {
	rcode   int
	qtype   uint16
	dc      int // answering data center; -1 none, -2 fail open
	ecs     int // ecsAbsent, ecsPresent, ecsInvalid
	nodata  bool
	zone    *Zone
	noReply bool
}

const (
	ecsAbsent = iota
	ecsPresent
	ecsInvalid
)

// Respond answers the query in req from client (the resolver's address),
// appending the response to out[:0]. It returns nil when nothing is to be
// sent (a response, or fewer bytes than a header). q is scratch space.
func (r *Responder) Respond(q *query, out, req []byte, client netip.Addr, udp bool) ([]byte, result) {
	res := result{dc: -1}
	if !parseQuery(req, q) || q.flags&flagQR != 0 {
		res.noReply = true
		return nil, res
	}
	res.qtype = q.qtype
	if q.ecs.present {
		res.ecs = ecsPresent
	}
	if q.simple {
		if resp, ok := r.fast(q, out, client, udp, &res); ok {
			return resp, res
		}
	}
	return r.slow(q, out, req, client, udp, &res), res
}

// maxUDP is the largest UDP response the query allows.
func (r *Responder) maxUDP(q *query) int {
	if !q.edns {
		return dns.MinMsgSize
	}
	return int(min(max(q.udpSize, dns.MinMsgSize), r.udpSize))
}

func (r *Responder) fast(q *query, out []byte, client netip.Addr, udp bool, res *result) ([]byte, bool) {
	name := q.name()
	z := r.zoneOfBytes(name)
	if z == nil {
		return nil, false
	}
	n := z.names[string(name)]
	if n == nil {
		return nil, false
	}
	var wire []byte
	var scope uint8
	if t := qtypeIndex(q.qtype); n.geo != nil && t >= 0 {
		rk, sc := r.locate(q.places, client, &q.ecs)
		set := n.geo.answers.Load().pick(rk)
		wire = set.wire[t][set.rotation()]
		scope = sc
		res.dc = set.dc
		if set.dc < 0 {
			res.dc = -2
		}
	} else {
		wire = n.static[q.qtype]
	}
	if wire == nil {
		return nil, false
	}
	out = append(out[:0], wire...)
	binary.BigEndian.PutUint16(out, q.id)
	out[2] |= byte((q.flags & flagRD) >> 8)
	out[3] |= byte(q.flags & flagCD)
	copy(out[headerLen:], q.qname)
	if q.edns {
		out = r.appendOPT(out, q, scope)
		binary.BigEndian.PutUint16(out[10:], binary.BigEndian.Uint16(out[10:])+1)
	}
	if udp && len(out) > r.maxUDP(q) {
		return nil, false
	}
	res.rcode = int(out[3] & 0xF)
	res.nodata = res.rcode == dns.RcodeSuccess && binary.BigEndian.Uint16(out[6:]) == 0
	res.zone = z
	return out, true
}

// appendOPT appends our OPT record: our UDP size, the DO bit echoed, and
// the ECS option echoed with its scope when the query had one.
func (r *Responder) appendOPT(out []byte, q *query, scope uint8) []byte {
	var ttl [4]byte
	if q.do {
		ttl[2] = 0x80
	}
	out = append(out, 0, 0, byte(dns.TypeOPT), byte(r.udpSize>>8), byte(r.udpSize), ttl[0], ttl[1], ttl[2], ttl[3])
	if !q.ecs.present {
		return append(out, 0, 0)
	}
	alen := (int(q.ecs.source) + 7) / 8
	optLen := 4 + alen
	out = append(out, 0, byte(4+optLen), 0, dns.EDNS0SUBNET, 0, byte(optLen))
	out = append(out, byte(q.ecs.family>>8), byte(q.ecs.family), q.ecs.source, scope)
	return append(out, q.ecs.addr.AsSlice()[:alen]...)
}

// locate returns the ranking for a client, and the ECS scope: from the
// ECS address when there is one and it can be placed, else from the
// resolver's address, else the default order. c, when not nil, is the
// calling worker's cache of places.
func (r *Responder) locate(c *placeCache, client netip.Addr, e *ecsOption) (*Ranking, uint8) {
	if e.present && e.source > 0 && e.addr.Is4In6() {
		// IPv4 written as IPv6 (family 2): not a client subnet anyone
		// should send. It is not placed, so one answer (the resolver's)
		// serves all of ::ffff:0:0/96.
		return r.place(c, client, false).rk, 96
	}
	if e.present && e.source > 0 {
		a, limit := e.addr, r.ecsMax4
		if e.family == 2 {
			limit = r.ecsMax6
		}
		if e.source > limit {
			a = netip.PrefixFrom(a, int(limit)).Masked().Addr()
		}
		p := r.place(c, a, true)
		if p.ok {
			return p.rk, p.scope
		}
		return r.place(c, client, false).rk, p.scope
	}
	return r.place(c, client, false).rk, 0
}

// placeCache keeps a worker's recent places, so that the resolvers and
// client networks seen again and again skip the database. It belongs to
// one goroutine: no locks. Places do not change while a Responder lives.
type placeCache [1024]placeEntry

type placeEntry struct {
	addr       netip.Addr
	rk         *Ranking // the default ranking when the address is not placed
	region     netip.Prefix
	ok         bool
	scope      uint8
	scopeKnown bool
}

// place locates a and ranks the data centers for it; withScope also
// computes the ECS scope.
func (r *Responder) place(c *placeCache, a netip.Addr, withScope bool) placeEntry {
	if c == nil {
		var e placeEntry
		r.fill(&e, a, withScope)
		return e
	}
	b := a.As16()
	h := (binary.LittleEndian.Uint64(b[:8]) ^ binary.LittleEndian.Uint64(b[8:])) * 0x9E3779B97F4A7C15
	e := &c[h>>54]
	if e.addr != a || e.rk == nil {
		*e = placeEntry{}
	}
	r.fill(e, a, withScope)
	return *e
}

func (r *Responder) fill(e *placeEntry, a netip.Addr, withScope bool) {
	if e.rk == nil {
		loc, region, ok := r.loc.Locate(a)
		*e = placeEntry{addr: a, rk: r.sel.Rank(loc, ok), region: region, ok: ok}
	}
	if withScope && !e.scopeKnown {
		var rk *Ranking
		if e.ok {
			rk = e.rk
		}
		e.scope, e.scopeKnown = r.scopes.scope(r, a, e.region, rk), true
	}
}

// slow answers through dns.Msg: errors, negative answers, truncation and
// anything the fast path does not take.
func (r *Responder) slow(q *query, out, req []byte, client netip.Addr, udp bool, res *result) []byte {
	if q.badOptions {
		res.ecs = ecsInvalid
		return r.errorReply(q, out, dns.RcodeFormatError, res)
	}
	if q.badQuestion {
		return r.errorReply(q, out, dns.RcodeFormatError, res)
	}
	req2 := new(dns.Msg)
	if err := req2.Unpack(req); err != nil {
		return r.errorReply(q, out, dns.RcodeFormatError, res)
	}
	m := new(dns.Msg)
	m.Id = req2.Id
	m.Response = true
	m.Opcode = req2.Opcode
	m.RecursionDesired = req2.RecursionDesired
	m.CheckingDisabled = req2.CheckingDisabled // RFC 4035 §3.1.6
	m.Question = req2.Question
	m.Compress = true
	opt := req2.IsEdns0()
	var scope uint8
	switch {
	case req2.Opcode != dns.OpcodeQuery:
		m.Rcode = dns.RcodeNotImplemented
	case len(req2.Question) != 1:
		// Not echoed: many questions would not fit in a UDP answer.
		m.Rcode = dns.RcodeFormatError
		m.Question = nil
	case opt != nil && opt.Version() != 0:
		m.Rcode = dns.RcodeBadVers
	default:
		qn := req2.Question[0]
		qname := strings.ToLower(qn.Name)
		z := r.zoneOf(qname)
		switch {
		case qn.Qtype == dns.TypeOPT || qn.Qtype == dns.TypeTSIG || qn.Qtype == dns.TypeTKEY:
			m.Rcode = dns.RcodeFormatError
		case qn.Qclass != dns.ClassINET || z == nil:
			m.Rcode = dns.RcodeRefused
		case qn.Qtype == dns.TypeAXFR || qn.Qtype == dns.TypeIXFR:
			m.Rcode = dns.RcodeRefused // no zone transfers
		default:
			res.zone = z
			m.Authoritative = true
			r.resolve(m, z, qname, qn.Qtype, func(g *GeoName) ([]netip.Addr, uint32) {
				rk, sc := r.locate(q.places, client, &q.ecs)
				set := g.answers.Load().pick(rk)
				scope = sc
				res.dc = set.dc
				if set.dc < 0 {
					res.dc = -2
				}
				v := set.rotation()
				return set.addrs[qtypeIndex(qn.Qtype)][v], set.ttl
			})
		}
	}
	if opt != nil {
		reply := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		reply.SetUDPSize(r.udpSize)
		if opt.Do() {
			reply.SetDo()
		}
		if q.ecs.present && m.Rcode != dns.RcodeBadVers {
			reply.Option = append(reply.Option, &dns.EDNS0_SUBNET{
				Code: dns.EDNS0SUBNET, Family: q.ecs.family, SourceNetmask: q.ecs.source,
				SourceScope: scope, Address: q.ecs.addr.AsSlice(),
			})
		}
		m.Extra = append(m.Extra, reply)
	}
	res.rcode = m.Rcode
	res.nodata = m.Rcode == dns.RcodeSuccess && len(m.Answer) == 0
	if udp {
		if size := r.maxUDP(q); m.Len() > size {
			m.Truncate(size)
		}
	}
	wire, err := m.PackBuffer(out[:cap(out)])
	if err != nil {
		r.log.Error("pack a response", "question", m.Question, "err", err)
		return r.errorReply(q, out, dns.RcodeServerFailure, res)
	}
	return wire
}

// errorReply builds an error response from the header alone (the rest of
// the query may be unreadable): ID, opcode and RD echoed, the question
// echoed when it was read, and an OPT when the query had one (RFC 6891 §7).
func (r *Responder) errorReply(q *query, out []byte, rcode int, res *result) []byte {
	res.rcode = rcode
	out = append(out[:0], byte(q.id>>8), byte(q.id), byte(flagQR>>8)|byte(q.opcode<<3)|byte((q.flags&flagRD)>>8), byte(rcode), 0, 0, 0, 0, 0, 0, 0, 0)
	if q.qdcount == 1 && q.qend > 0 && q.qname != nil {
		out = append(out, q.qname...)
		out = binary.BigEndian.AppendUint16(out, q.qtype)
		out = binary.BigEndian.AppendUint16(out, q.qclass)
		out[5] = 1
	}
	if q.edns {
		e := *q
		e.ecs.present = false
		out = r.appendOPT(out, &e, 0)
		out[11] = 1
	}
	return out
}
