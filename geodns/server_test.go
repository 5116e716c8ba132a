package geodns_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tern-cdn/tern/cmd/tern/node"
	"github.com/tern-cdn/tern/internal/testkit"
)

// fleetEdge is an edge's admin listener: a real HTTP server whose /healthz
// passes while up is true. While hung, checks get no answer until release.
type fleetEdge struct {
	srv     *httptest.Server
	up      atomic.Bool
	hung    atomic.Bool
	unhang  chan struct{}
	release func()
}

func startFleetEdge(t *testing.T) *fleetEdge {
	e := &fleetEdge{unhang: make(chan struct{})}
	e.release = sync.OnceFunc(func() { e.hung.Store(false); close(e.unhang) })
	e.up.Store(true)
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.hung.Load() {
			select {
			case <-e.unhang:
			case <-r.Context().Done():
				return
			}
		}
		if !e.up.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(e.srv.Close)
	t.Cleanup(e.release) // runs first: hung handlers return
	return e
}

func (e *fleetEdge) addr() string { return strings.TrimPrefix(e.srv.URL, "http://") }

// dnsFleet is a dns node on loopback in front of three data centers whose
// edges are real health endpoints.
type dnsFleet struct {
	node  *node.Node
	addr  string // DNS, UDP and TCP
	admin string
	// token is the admin token, when the test configured one.
	token string
	// edges by name: eu-west-1, us-east-1, us-east-2, ap-southeast-1
	edges map[string]*fleetEdge
}

// fleetDNS is the dns section of the fleet after its node; %s are the
// extra records and the extra settings (dns ones indented by two spaces,
// top-level ones not).
const fleetDNS = `
  geoip: [../testdata/geoip/tern-test-city.mmdb]
  default_order: [eu-west, us-east, ap-southeast]
  zones:
    - name: cdn.test
      ns:
        - {name: ns1.cdn.test, addresses: [192.0.2.53]}
        - {name: ns.example.net}
      records:
        - '@ IN TXT "tern test zone"'
        - "@ IN MX 10 mail.cdn.test."
        - '@ IN CAA 0 issue "letsencrypt.org"'
        - "mail IN A 192.0.2.25"
        - "static IN CNAME www"
        - "deep.a.b IN TXT deep"
        - "out IN CNAME www.example.net."
%s
      geo:
        - name: www
        - {name: eu-only, datacenters: [eu-west]}
%s
`

// fleetTopology is three data centers, four edges (their health endpoints
// at admins, by name) and the node dns-1, all on loopback; dns is YAML
// that follows the dns node (fleetDNS).
func fleetTopology(admins map[string]string, dns string) testkit.Topology {
	edge := func(name, public string) testkit.Node {
		return testkit.Node{Name: name, Admin: admins[name], Extra: public}
	}
	return testkit.Topology{
		Sites: []testkit.Site{{Name: "s", Hosts: []string{"www.cdn.test"}, Origin: "http://127.0.0.1:9"}},
		Datacenters: []testkit.Datacenter{
			{Name: "eu-west", Lat: 50.11, Lon: 8.68, Extra: "country: DE\ncontinent: EU",
				Edges: []testkit.Node{edge("eu-west-1", "public: [192.0.2.11, 2001:db8:1::11]")}},
			{Name: "us-east", Lat: 39.04, Lon: -77.49, Extra: "country: US\ncontinent: NA",
				Edges: []testkit.Node{edge("us-east-1", "public: [192.0.2.21], weight: 3"), edge("us-east-2", "public: [192.0.2.22], weight: 1")}},
			{Name: "ap-southeast", Lat: 1.35, Lon: 103.82, Extra: "country: SG\ncontinent: AS",
				Edges: []testkit.Node{edge("ap-southeast-1", "public: [192.0.2.31]")}},
		},
		DNS:   []testkit.Node{{Name: "dns-1"}},
		Extra: dns,
	}
}

// newFleet builds the dns node of fleetYAML (records and extra added) in
// front of four real health endpoints; it does not run it yet.
func newFleet(t *testing.T, records, extra string) *dnsFleet {
	t.Helper()
	f := &dnsFleet{edges: map[string]*fleetEdge{}}
	admins := map[string]string{}
	for _, name := range []string{"eu-west-1", "us-east-1", "us-east-2", "ap-southeast-1"} {
		e := startFleetEdge(t)
		f.edges[name] = e
		admins[name] = e.addr()
	}
	if !strings.Contains(extra, "  health:") {
		extra += "\n  health: {interval: 50ms, timeout: 500ms, rise: 2, fall: 2}"
	}
	topo := fleetTopology(admins, fmt.Sprintf(fleetDNS, records, extra)).Parse(t)
	ref, ok := topo.Lookup("dns-1")
	if !ok {
		t.Fatal("no dns-1")
	}
	var err error
	f.node, err = node.New(topo, ref, node.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.addr, f.admin = f.node.Listen, f.node.Admin
	return f
}

// startFleet is newFleet, running until the test ends, once every edge
// has been checked (answers have their full TTL).
func startFleet(t *testing.T, records, extra string) *dnsFleet {
	t.Helper()
	f := newFleet(t, records, extra)
	f.run(t)
	testkit.Eventually(t, 10*time.Second, "every edge to be checked", func() bool {
		return !strings.Contains(getJSON(t, "http://"+f.admin+"/status"), `"checked": false`)
	})
	return f
}

// run runs the fleet's node until the test ends.
func (f *dnsFleet) run(t *testing.T) {
	testkit.Run(t, 10*time.Second, f.node.Run)
}

// ask sends m over network ("udp" or "tcp") and returns the reply.
func (f *dnsFleet) ask(t *testing.T, network string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 2 * time.Second, UDPSize: 65535}
	r, _, err := c.Exchange(m, f.addr)
	if err != nil {
		t.Fatalf("%s query %v: %v", network, m.Question, err)
	}
	return r
}

func question(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return m
}

// withECS adds EDNS0 with a client subnet.
func withECS(m *dns.Msg, prefix string) *dns.Msg {
	p := netip.MustParsePrefix(prefix)
	m.SetEdns0(1232, false)
	family := uint16(1)
	if p.Addr().Is6() {
		family = 2
	}
	opt := m.IsEdns0()
	opt.Option = append(opt.Option, &dns.EDNS0_SUBNET{
		Code: dns.EDNS0SUBNET, Family: family, SourceNetmask: uint8(p.Bits()), Address: p.Masked().Addr().AsSlice(),
	})
	return m
}

func addrs(m *dns.Msg) []string {
	var as []string
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			as = append(as, rr.A.String())
		case *dns.AAAA:
			as = append(as, rr.AAAA.String())
		}
	}
	slices.Sort(as)
	return as
}

func ecsOf(m *dns.Msg) *dns.EDNS0_SUBNET {
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_SUBNET); ok {
				return e
			}
		}
	}
	return nil
}

func TestGeoAnswersByClientSubnet(t *testing.T) {
	f := startFleet(t, "", "")
	tests := []struct {
		subnet string
		qtype  uint16
		want   []string
		scope  uint8
	}{
		{"198.51.100.7/24", dns.TypeA, []string{"192.0.2.21", "192.0.2.22"}, 24},
		{"203.0.113.9/24", dns.TypeA, []string{"192.0.2.31"}, 24},
		{"192.0.2.1/24", dns.TypeA, []string{"192.0.2.11"}, 24},
		{"192.0.2.1/24", dns.TypeAAAA, []string{"2001:db8:1::11"}, 24},
		// A longer source prefix is cut to /24 before the lookup.
		{"198.51.100.7/32", dns.TypeA, []string{"192.0.2.21", "192.0.2.22"}, 24},
		{"2001:db8:2::/48", dns.TypeA, []string{"192.0.2.21", "192.0.2.22"}, 48},
		{"2001:db8:3:1::/64", dns.TypeA, []string{"192.0.2.31"}, 48},
		// An IPv4-mapped IPv6 subnet is not placed: the resolver's answer
		// for all of ::ffff:0:0/96.
		{"::ffff:203.0.113.0/120", dns.TypeA, []string{"192.0.2.11"}, 96},
		// Unlocatable (private, or not in the database): the resolver's
		// address (loopback: unlocatable too), then the default order. The
		// scope covers the whole network around it that no database or
		// override places: in the test database, everything up to
		// 127.255.255.255 (0.0.0.0/1).
		{"10.1.2.0/24", dns.TypeA, []string{"192.0.2.11"}, 1},
	}
	for _, tt := range tests {
		for _, network := range []string{"udp", "tcp"} {
			r := f.ask(t, network, withECS(question("www.cdn.test.", tt.qtype), tt.subnet))
			if got := addrs(r); !slices.Equal(got, tt.want) || r.Rcode != dns.RcodeSuccess {
				t.Errorf("%s %s %s: %v rcode %d, want %v", network, tt.subnet, dns.TypeToString[tt.qtype], got, r.Rcode, tt.want)
			}
			e := ecsOf(r)
			if e == nil {
				t.Errorf("%s %s: no ECS in the reply", network, tt.subnet)
				continue
			}
			p := netip.MustParsePrefix(tt.subnet)
			if e.SourceNetmask != uint8(p.Bits()) || e.SourceScope != tt.scope || !e.Address.Equal(p.Masked().Addr().AsSlice()) {
				t.Errorf("%s %s: ECS back %s/%d scope %d, want scope %d", network, tt.subnet, e.Address, e.SourceNetmask, e.SourceScope, tt.scope)
			}
		}
	}
	// Without ECS the resolver's address (127.0.0.1: unlocatable) gives
	// the default order, and no ECS comes back.
	r := f.ask(t, "udp", question("www.cdn.test.", dns.TypeA))
	if got := addrs(r); !slices.Equal(got, []string{"192.0.2.11"}) || r.IsEdns0() != nil {
		t.Errorf("no ECS: %v (opt %v)", got, r.IsEdns0())
	}
	// Source prefix 0: the client asks not to be located by subnet; scope 0.
	r = f.ask(t, "udp", withECS(question("www.cdn.test.", dns.TypeA), "0.0.0.0/0"))
	if e := ecsOf(r); e == nil || e.SourceScope != 0 || !slices.Equal(addrs(r), []string{"192.0.2.11"}) {
		t.Errorf("source /0: %v %v", addrs(r), e)
	}
	// A static answer does not depend on the subnet: scope 0.
	r = f.ask(t, "udp", withECS(question("mail.cdn.test.", dns.TypeA), "198.51.100.0/24"))
	if e := ecsOf(r); e == nil || e.SourceScope != 0 || !slices.Equal(addrs(r), []string{"192.0.2.25"}) {
		t.Errorf("static with ECS: %v %v", addrs(r), e)
	}
	// A geo name limited to one data center answers it for everyone.
	r = f.ask(t, "udp", withECS(question("eu-only.cdn.test.", dns.TypeA), "203.0.113.0/24"))
	if !slices.Equal(addrs(r), []string{"192.0.2.11"}) {
		t.Errorf("eu-only: %v", addrs(r))
	}
}

// TestECSScopeNetworks checks the scope for networks of different sizes:
// it is the widest network around the client whose every address ranks the
// data centers the same, not just the client's prefix.
func TestECSScopeNetworks(t *testing.T) {
	f := startFleet(t, "", `
  networks:
    - {network: 100.64.0.0/10, datacenter: us-east}
    - {network: 100.64.1.0/24, datacenter: ap-southeast}
    - {network: 100.64.2.128/25, country: SG, continent: AS, lat: 1.3, lon: 103.8}
    - {network: 11.0.0.0/9, datacenter: ap-southeast}
    - {network: 11.128.0.0/9, datacenter: ap-southeast}`)
	tests := []struct {
		subnet string
		want   string
		scope  uint8
	}{
		// Inside the /10 but beside the /24 carved out of it.
		{"100.64.0.0/24", "192.0.2.2", 24},
		{"100.64.1.0/24", "192.0.2.31", 24},
		// Far from the nested networks: a /11 holds none of them.
		{"100.96.0.0/16", "192.0.2.2", 11},
		// A /25 override inside a /24 source: the answer depends on a bit
		// past the source prefix, so the scope is longer than the source.
		{"100.64.2.0/24", "192.0.2.2", 25},
		// Two /9s with the same data center: one /8 for the resolver.
		{"11.1.2.0/24", "192.0.2.31", 8},
	}
	for _, tt := range tests {
		r := f.ask(t, "udp", withECS(question("www.cdn.test.", dns.TypeA), tt.subnet))
		got := addrs(r)
		if len(got) == 0 || !strings.HasPrefix(got[0], tt.want) {
			t.Errorf("%s: %v, want %s*", tt.subnet, got, tt.want)
		}
		if e := ecsOf(r); e == nil || e.SourceScope != tt.scope {
			t.Errorf("%s: ECS %v, want scope %d", tt.subnet, e, tt.scope)
		}
	}
}

func TestStandardsBehaviour(t *testing.T) {
	var big []string
	for i := range 40 {
		big = append(big, fmt.Sprintf(`        - 'big IN TXT "%s-%02d"'`, strings.Repeat("x", 40), i))
	}
	f := startFleet(t, strings.Join(big, "\n"), "")

	// AA set, RA clear, the question echoed as asked (case kept).
	r := f.ask(t, "udp", question("WwW.CdN.TeSt.", dns.TypeA))
	if !r.Authoritative || r.RecursionAvailable || r.Question[0].Name != "WwW.CdN.TeSt." || len(r.Answer) == 0 {
		t.Errorf("flags/question: aa=%v ra=%v q=%v answers=%d", r.Authoritative, r.RecursionAvailable, r.Question, len(r.Answer))
	}
	if r.Answer[0].Header().Ttl != 30 {
		t.Errorf("geo TTL %d, want 30", r.Answer[0].Header().Ttl)
	}

	// NXDOMAIN and NODATA carry the SOA, its TTL min(SOA TTL, MINIMUM).
	for _, tc := range []struct {
		name  string
		qtype uint16
		rcode int
	}{
		{"nope.cdn.test.", dns.TypeA, dns.RcodeNameError},
		{"www.cdn.test.", dns.TypeTXT, dns.RcodeSuccess},
		{"a.b.cdn.test.", dns.TypeA, dns.RcodeSuccess}, // empty non-terminal
		{"mail.cdn.test.", dns.TypeAAAA, dns.RcodeSuccess},
	} {
		for _, network := range []string{"udp", "tcp"} {
			r := f.ask(t, network, question(tc.name, tc.qtype))
			if r.Rcode != tc.rcode || len(r.Answer) != 0 || len(r.Ns) != 1 || !r.Authoritative {
				t.Fatalf("%s %s %s: rcode %d answers %d ns %v", network, tc.name, dns.TypeToString[tc.qtype], r.Rcode, len(r.Answer), r.Ns)
			}
			soa, ok := r.Ns[0].(*dns.SOA)
			if !ok || soa.Hdr.Ttl != 60 || soa.Minttl != 60 || soa.Hdr.Name != "cdn.test." {
				t.Errorf("%s: authority %v", tc.name, r.Ns[0])
			}
		}
	}

	// REFUSED outside the zones; CHAOS too.
	if r := f.ask(t, "udp", question("example.com.", dns.TypeA)); r.Rcode != dns.RcodeRefused || r.Authoritative {
		t.Errorf("outside: rcode %d aa %v", r.Rcode, r.Authoritative)
	}
	ch := question("version.bind.", dns.TypeTXT)
	ch.Question[0].Qclass = dns.ClassCHAOS
	if r := f.ask(t, "udp", ch); r.Rcode != dns.RcodeRefused {
		t.Errorf("chaos: rcode %d", r.Rcode)
	}

	// ANY: one synthesized HINFO (RFC 8482).
	r = f.ask(t, "udp", question("cdn.test.", dns.TypeANY))
	if len(r.Answer) != 1 || r.Answer[0].(*dns.HINFO).Cpu != "RFC8482" {
		t.Errorf("ANY: %v", r.Answer)
	}

	// Static records, NS with glue (only for the in-zone server), SOA.
	for _, tc := range []struct {
		name  string
		qtype uint16
		n     int
	}{
		{"cdn.test.", dns.TypeTXT, 1}, {"cdn.test.", dns.TypeMX, 1}, {"cdn.test.", dns.TypeCAA, 1},
		{"cdn.test.", dns.TypeSOA, 1}, {"cdn.test.", dns.TypeNS, 2}, {"deep.a.b.cdn.test.", dns.TypeTXT, 1},
	} {
		r := f.ask(t, "udp", question(tc.name, tc.qtype))
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != tc.n || r.Answer[0].Header().Rrtype != tc.qtype {
			t.Errorf("%s %s: %v", tc.name, dns.TypeToString[tc.qtype], r.Answer)
		}
		if tc.qtype == dns.TypeNS && (len(r.Extra) != 1 || r.Extra[0].(*dns.A).A.String() != "192.0.2.53") {
			t.Errorf("NS glue: %v", r.Extra)
		}
	}

	// A CNAME to a geo name is followed; one out of the zones is not.
	r = f.ask(t, "udp", withECS(question("static.cdn.test.", dns.TypeA), "203.0.113.0/24"))
	if len(r.Answer) != 2 || r.Answer[0].Header().Rrtype != dns.TypeCNAME || !slices.Equal(addrs(r), []string{"192.0.2.31"}) {
		t.Errorf("CNAME chase: %v", r.Answer)
	}
	r = f.ask(t, "udp", question("out.cdn.test.", dns.TypeA))
	if len(r.Answer) != 1 || r.Answer[0].(*dns.CNAME).Target != "www.example.net." || r.Rcode != dns.RcodeSuccess {
		t.Errorf("CNAME out: %v", r.Answer)
	}

	// EDNS0: our payload size, the DO bit echoed; BADVERS for version 1.
	m := question("www.cdn.test.", dns.TypeA)
	m.SetEdns0(4096, true)
	r = f.ask(t, "udp", m)
	if opt := r.IsEdns0(); opt == nil || !opt.Do() || opt.UDPSize() != 1232 || opt.Version() != 0 {
		t.Errorf("EDNS: %v", r.IsEdns0())
	}
	m = question("www.cdn.test.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().SetVersion(1)
	r = f.ask(t, "udp", m)
	if r.Rcode != dns.RcodeBadVers || r.IsEdns0() == nil || r.IsEdns0().Version() != 0 || len(r.Answer) != 0 {
		t.Errorf("BADVERS: rcode %d opt %v", r.Rcode, r.IsEdns0())
	}

	// Truncation: 40 TXT records do not fit in 512 bytes (no EDNS) nor
	// in 1232; TC over UDP, everything over TCP.
	for _, edns := range []bool{false, true} {
		m := question("big.cdn.test.", dns.TypeTXT)
		if edns {
			m.SetEdns0(4096, false)
		}
		c := &dns.Client{Net: "udp", Timeout: 2 * time.Second, UDPSize: 65535}
		r, _, err := c.Exchange(m, f.addr)
		if err != nil {
			t.Fatal(err)
		}
		limit := 512
		if edns {
			limit = 1232
		}
		r.Compress = true // Len of the wire form
		if !r.Truncated || r.Len() > limit || len(r.Answer) >= 40 {
			t.Errorf("udp edns=%v: tc=%v len=%d answers=%d", edns, r.Truncated, r.Len(), len(r.Answer))
		}
		r = f.ask(t, "tcp", m)
		if r.Truncated || len(r.Answer) != 40 {
			t.Errorf("tcp edns=%v: tc=%v answers=%d", edns, r.Truncated, len(r.Answer))
		}
	}

	// Two questions: FORMERR. An unknown opcode: NOTIMP.
	m = question("www.cdn.test.", dns.TypeA)
	m.Question = append(m.Question, dns.Question{Name: "mail.cdn.test.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
	if r := f.ask(t, "udp", m); r.Rcode != dns.RcodeFormatError {
		t.Errorf("two questions: rcode %d", r.Rcode)
	}
	m = question("www.cdn.test.", dns.TypeA)
	m.Opcode = dns.OpcodeStatus
	if r := f.ask(t, "udp", m); r.Rcode != dns.RcodeNotImplemented {
		t.Errorf("STATUS: rcode %d", r.Rcode)
	}
	// Zone transfers are refused.
	if r := f.ask(t, "tcp", question("cdn.test.", dns.TypeAXFR)); r.Rcode != dns.RcodeRefused {
		t.Errorf("AXFR: rcode %d", r.Rcode)
	}
}

// rawExchange sends b over UDP and returns the reply, or nil after timeout.
func rawExchange(t *testing.T, addr string, b []byte, timeout time.Duration) []byte {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

func TestMalformedQueries(t *testing.T) {
	f := startFleet(t, "", "")
	valid := withECS(question("www.cdn.test.", dns.TypeA), "198.51.100.0/24")
	good, err := valid.Pack()
	if err != nil {
		t.Fatal(err)
	}
	// The ECS option is the last bytes of the packet: family(2) source(1)
	// scope(1) address(3).
	ecsAt := len(good) - 7

	mutate := func(f func(b []byte) []byte) []byte { return f(slices.Clone(good)) }
	formerr := map[string][]byte{
		// Family 1 with a 16-byte address (dns.Msg accepts this one).
		"ecs family/length": func() []byte {
			m := question("www.cdn.test.", dns.TypeA)
			m.SetEdns0(1232, false)
			b, _ := m.Pack()
			opt := []byte{0, 8, 0, 20, 0, 1, 24, 0}
			opt = append(opt, make([]byte, 16)...)
			b = append(b[:len(b)-2], byte(len(opt)>>8), byte(len(opt)))
			return append(b, opt...)
		}(),
		"ecs scope in a query":   mutate(func(b []byte) []byte { b[ecsAt+3] = 8; return b }),
		"ecs bits past source":   mutate(func(b []byte) []byte { b[ecsAt+4+2] = 1; b[ecsAt+2] = 20; return b }),
		"ecs unknown family":     mutate(func(b []byte) []byte { b[ecsAt+1] = 3; return b }),
		"ecs prefix too long":    mutate(func(b []byte) []byte { b[ecsAt+2] = 33; return b }),
		"two OPT records":        twoOPT(t),
		"truncated question":     good[:20],
		"option length too long": mutate(func(b []byte) []byte { b[ecsAt-1] = 40; return b }),
		// RFC 1035 §4.1.2: a question is a name, a type and a class.
		"name without type and class": good[:12+len("\x03www\x03cdn\x04test\x00")],
	}
	for name, b := range formerr {
		resp := rawExchange(t, f.addr, b, 2*time.Second)
		if resp == nil {
			t.Errorf("%s: no reply", name)
			continue
		}
		r := new(dns.Msg)
		if err := r.Unpack(resp); err != nil {
			t.Errorf("%s: reply does not parse: %v", name, err)
			continue
		}
		if r.Rcode != dns.RcodeFormatError || r.Id != uint16(b[0])<<8|uint16(b[1]) || !r.Response {
			t.Errorf("%s: rcode %d id %d", name, r.Rcode, r.Id)
		}
		noOPT := name == "truncated question" || name == "name without type and class"
		if noOPT && len(r.Question) != 0 {
			t.Errorf("%s: question %v echoed", name, r.Question)
		}
		if !noOPT && r.IsEdns0() == nil {
			t.Errorf("%s: FORMERR without OPT (RFC 6891 §7)", name)
		}
	}
	// Not answered at all: shorter than a header, or a response.
	resp := slices.Clone(good)
	resp[2] |= 0x80
	for name, b := range map[string][]byte{"short": {1, 2, 3}, "response": resp, "empty": {}} {
		if r := rawExchange(t, f.addr, b, 300*time.Millisecond); r != nil {
			t.Errorf("%s: got a reply %x", name, r)
		}
	}
	// And the server still answers.
	if r := f.ask(t, "udp", valid); len(r.Answer) == 0 {
		t.Error("no answer after garbage")
	}
}

func twoOPT(t *testing.T) []byte {
	m := question("www.cdn.test.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.Extra = append(m.Extra, &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: 1232}})
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTCPLimits(t *testing.T) {
	f := startFleet(t, "", `
  tcp: {max_connections: 3, max_per_client: 2, idle_timeout: 300ms}`)
	// Pipelining: two queries written at once, two answers in order.
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out []byte
	for i, name := range []string{"www.cdn.test.", "mail.cdn.test."} {
		m := question(name, dns.TypeA)
		m.Id = uint16(100 + i)
		b, _ := m.Pack()
		out = append(out, byte(len(b)>>8), byte(len(b)))
		out = append(out, b...)
	}
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	dc := &dns.Conn{Conn: c}
	for i := range 2 {
		r, err := dc.ReadMsg()
		if err != nil || r.Id != uint16(100+i) || len(r.Answer) == 0 {
			t.Fatalf("pipelined answer %d: %v %v", i, r, err)
		}
	}
	// Idle: the server closes the connection.
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("idle connection still open")
	}
	// One client network (a /24) may hold 2 connections: its third is
	// closed at once, while another network still gets in, up to 3 in all;
	// a fourth takes the place of the connection idle longest.
	dialFrom := func(local string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		c, err := d.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	closedAtOnce := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err := c.Read(make([]byte, 1))
		return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
	}
	first := dialFrom("127.0.0.1")
	dialFrom("127.0.0.2")
	// The server accepts connections in the order they were made.
	if !closedAtOnce(dialFrom("127.0.0.3")) {
		t.Error("a client network's third connection was not closed")
	}
	other := dialFrom("127.0.7.2")
	dc = &dns.Conn{Conn: other}
	if err := dc.WriteMsg(question("www.cdn.test.", dns.TypeA)); err != nil {
		t.Fatal(err)
	}
	if r, err := dc.ReadMsg(); err != nil || len(r.Answer) == 0 {
		t.Fatalf("another client: %v %v", r, err)
	}
	dc = &dns.Conn{Conn: dialFrom("127.0.8.3")}
	if err := dc.WriteMsg(question("www.cdn.test.", dns.TypeA)); err != nil {
		t.Fatal(err)
	}
	if r, err := dc.ReadMsg(); err != nil || len(r.Answer) == 0 {
		t.Fatalf("a fourth connection: %v %v", r, err)
	}
	if !closedAtOnce(first) {
		t.Error("the connection idle longest was not closed for the fourth")
	}
}

func TestResponseRateLimit(t *testing.T) {
	f := startFleet(t, "", `
  rate_limit: {responses_per_second: 5, slip: 2}`)
	m := question("mail.cdn.test.", dns.TypeA)
	b, _ := m.Pack()
	c, err := net.Dial("udp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const sent = 40
	for range sent {
		c.Write(b)
	}
	full, truncated := 0, 0
	buf := make([]byte, 4096)
	for {
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := c.Read(buf)
		if err != nil {
			break
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:n]); err != nil {
			t.Fatal(err)
		}
		if r.Truncated {
			truncated++
			if len(r.Answer) != 0 {
				t.Errorf("slipped reply has answers")
			}
		} else {
			full++
		}
	}
	// 5 per second with a burst of a second: ~5 answers (a few more if
	// the loop spans more time), about half the rest truncated, the rest
	// dropped.
	if full < 4 || full > 10 || truncated < 10 || full+truncated >= sent {
		t.Errorf("full %d truncated %d of %d", full, truncated, sent)
	}
	// A different question from the same client is counted apart, and
	// TCP is never limited.
	if r := f.ask(t, "udp", question("www.cdn.test.", dns.TypeA)); len(r.Answer) == 0 {
		t.Error("other question limited")
	}
	for range 20 {
		if r := f.ask(t, "tcp", m); len(r.Answer) != 1 {
			t.Fatal("TCP limited")
		}
	}
}

func TestWeightedRotation(t *testing.T) {
	f := startFleet(t, "", "")
	first := map[string]int{}
	for range 40 {
		r := f.ask(t, "udp", withECS(question("www.cdn.test.", dns.TypeA), "198.51.100.0/24"))
		if len(r.Answer) != 2 {
			t.Fatalf("answers %v", r.Answer)
		}
		first[r.Answer[0].(*dns.A).A.String()]++
	}
	// Weights 3 and 1: us-east-1 leads 30 times of 40.
	if first["192.0.2.21"] != 30 || first["192.0.2.22"] != 10 {
		t.Errorf("first answers %v, want 30/10", first)
	}
}

// answerFor asks for www from a subnet until the answer is want or the
// deadline passes; it returns the time it took.
func (f *dnsFleet) waitAnswer(t *testing.T, subnet string, want []string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var got []string
	for time.Since(start) < within {
		got = addrs(f.ask(t, "udp", withECS(question("www.cdn.test.", dns.TypeA), subnet)))
		if slices.Equal(got, want) {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: answer %v after %v, want %v", subnet, got, within, want)
	return 0
}

func TestRegionalFailover(t *testing.T) {
	t.Setenv("TERN_TEST_ADMIN_TOKEN", "failover")
	f := startFleet(t, "", fleetHealth+"\nadmin: {token_env: TERN_TEST_ADMIN_TOKEN}")
	f.token = "failover"
	us := []string{"192.0.2.21", "192.0.2.22"}
	f.waitAnswer(t, "198.51.100.0/24", us, 5*time.Second)

	// One us-east edge down: the other answers alone.
	f.edges["us-east-1"].up.Store(false)
	f.waitAnswer(t, "198.51.100.0/24", []string{"192.0.2.22"}, 5*time.Second)
	// Both down: the data center is down; the next nearest (eu-west)
	// answers. Ashburn → Frankfurt is nearer than Singapore.
	f.edges["us-east-2"].up.Store(false)
	took := f.waitAnswer(t, "198.51.100.0/24", []string{"192.0.2.11"}, 5*time.Second)
	t.Logf("us-east failed over in %v (checks every 50ms, fall 2)", took)
	// Back up: clients return.
	f.edges["us-east-1"].up.Store(true)
	f.edges["us-east-2"].up.Store(true)
	f.waitAnswer(t, "198.51.100.0/24", us, 5*time.Second)

	// Everything down: fail open, every edge answered.
	for _, e := range f.edges {
		e.up.Store(false)
	}
	f.waitAnswer(t, "198.51.100.0/24", []string{"192.0.2.11", "192.0.2.21", "192.0.2.22", "192.0.2.31"}, 5*time.Second)
	status := getJSON(t, "http://"+f.admin+"/status")
	if !strings.Contains(status, `"www.cdn.test."`) {
		t.Errorf("status does not list the fail-open name: %s", status)
	}
	for _, e := range f.edges {
		e.up.Store(true)
	}
	f.waitAnswer(t, "198.51.100.0/24", us, 5*time.Second)

	// Operator drain of a data center, through the admin API.
	post(t, "http://"+f.admin+"/drain?datacenter=us-east", f.token, http.StatusOK)
	f.waitAnswer(t, "198.51.100.0/24", []string{"192.0.2.11"}, time.Second)
	if s := getJSON(t, "http://"+f.admin+"/status"); !strings.Contains(s, `"drained": true`) {
		t.Errorf("status after drain: %s", s)
	}
	post(t, "http://"+f.admin+"/undrain?datacenter=us-east", f.token, http.StatusOK)
	f.waitAnswer(t, "198.51.100.0/24", us, time.Second)
	post(t, "http://"+f.admin+"/drain?edge=us-east-2", f.token, http.StatusOK)
	f.waitAnswer(t, "198.51.100.0/24", []string{"192.0.2.21"}, time.Second)
	post(t, "http://"+f.admin+"/drain?edge=nope", f.token, http.StatusNotFound)
	// A web page cannot drain: cross-origin POSTs are refused.
	req, _ := http.NewRequest("POST", "http://"+f.admin+"/drain?datacenter=eu-west", nil)
	req.Header.Set("Authorization", "Bearer "+f.token)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "http://evil.example")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin drain: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	post(t, "http://"+f.admin+"/drain", f.token, http.StatusBadRequest)

	metrics := getJSON(t, "http://"+f.admin+"/metrics")
	for _, want := range []string{
		`tern_dns_answers_total{datacenter="us-east"}`, `tern_dns_answers_total{datacenter="fail-open"}`,
		`tern_dns_queries_total{qtype="A",rcode="NOERROR"}`, `tern_dns_ecs_queries_total{ecs="present"}`,
		`tern_dns_datacenter_failovers_total{datacenter="us-east"}`, `tern_dns_query_duration_seconds_count`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestDrainNeedsToken(t *testing.T) {
	t.Setenv("TERN_TEST_DNS_TOKEN", "s3cret")
	f := startFleet(t, "", `
  admin_token_env: TERN_TEST_DNS_TOKEN`)
	post(t, "http://"+f.admin+"/drain?datacenter=us-east", f.token, http.StatusUnauthorized)
	req, _ := http.NewRequest("POST", "http://"+f.admin+"/drain?datacenter=us-east", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("right token: %v %v", resp, err)
	}
	resp.Body.Close()
}

func getJSON(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// post sends POST url with token as the bearer token ("" for none).
func post(t *testing.T, url, token string, want int) {
	t.Helper()
	req, err := http.NewRequest("POST", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %d %s, want %d", url, resp.StatusCode, b, want)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("POST %s: content type %q", url, resp.Header.Get("Content-Type"))
	}
}

// TestConcurrentQueries runs many clients over UDP and TCP at once under
// the race detector, while health flips.
func TestConcurrentQueries(t *testing.T) {
	f := startFleet(t, "", `
  rate_limit: {responses_per_second: -1}`)
	var wg, flipper sync.WaitGroup
	stop := make(chan struct{})
	flipper.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				f.edges["ap-southeast-1"].up.Store(i%2 == 0)
			}
		}
	})
	var failures atomic.Int64
	for i := range 8 {
		wg.Go(func() {
			network := []string{"udp", "tcp"}[i%2]
			c := &dns.Client{Net: network, Timeout: 2 * time.Second}
			for range 100 {
				m := withECS(question("www.cdn.test.", dns.TypeA), "203.0.113.0/24")
				r, _, err := c.Exchange(m, f.addr)
				if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
					failures.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	flipper.Wait()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d of 800 queries failed", n)
	}
}

// TestShutdownUnderLoad stops a node while queries pour in: Run returns
// promptly and leaves no goroutine behind (goleak in TestMain).
func TestShutdownUnderLoad(t *testing.T) {
	f := newFleet(t, "", "\n  rate_limit: {responses_per_second: -1}")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.node.Run(ctx) }()
	q, _ := question("www.cdn.test.", dns.TypeA).Pack()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			c, err := net.Dial("udp", f.node.Listen)
			if err != nil {
				return
			}
			defer c.Close()
			for i := 0; i < 200000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c.Write(q)
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5 s of cancel under load")
	}
	close(stop)
	wg.Wait()
}

// TestTCPGarbage: over TCP a malformed query gets FORMERR and the
// connection stays usable; a length too short for a header closes it.
func TestTCPGarbage(t *testing.T) {
	f := startFleet(t, "", `
  tcp: {idle_timeout: 2s}`)
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dc := &dns.Conn{Conn: c}
	// A header that says one question, then nothing readable.
	garbage := []byte{0xAB, 0xCD, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}
	c.Write(append([]byte{0, byte(len(garbage))}, garbage...))
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	r, err := dc.ReadMsg()
	if err != nil || r.Rcode != dns.RcodeFormatError || r.Id != 0xABCD {
		t.Fatalf("garbage over TCP: %v %v", r, err)
	}
	if err := dc.WriteMsg(question("www.cdn.test.", dns.TypeA)); err != nil {
		t.Fatal(err)
	}
	if r, err := dc.ReadMsg(); err != nil || len(r.Answer) == 0 {
		t.Fatalf("query after garbage: %v %v", r, err)
	}
	// Length 5: no header fits; the server closes the connection.
	c.Write([]byte{0, 5, 1, 2, 3, 4, 5})
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("connection still open after a 5-byte message")
	}
}
