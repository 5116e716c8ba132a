package geodns

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/tern-cdn/tern/internal/testkit"
)

// testZoneDNS is the dns section of testZone.
const testZoneDNS = `
geoip: [../testdata/geoip/tern-test-city.mmdb]
networks:
  - {network: 100.64.0.0/10, datacenter: us-east}
zones:
  - name: cdn.test
    ns:
      - {name: ns1.cdn.test, addresses: [192.0.2.53]}
    records:
      - '@ IN TXT "tern"'
      - "@ IN MX 10 mail.cdn.test."
      - "mail IN A 192.0.2.25"
      - "static IN CNAME www"
      - "x.y IN TXT deep"
      - "www.sub IN A 192.0.2.99"
    geo:
      - name: www
  - name: sub.cdn.test
    ns:
      - {name: ns1.sub.cdn.test, addresses: [192.0.2.54]}
    records:
      - "www IN A 192.0.2.77"
      - "@ IN TXT child"
`

// testZone is a topology whose dns section the Responder tests use; the
// edges' admin addresses are never dialled.
func testZone() testkit.Topology {
	return testkit.Topology{
		Sites: []testkit.Site{{Name: "s", Hosts: []string{"www.cdn.test"}, Origin: "http://127.0.0.1:9"}},
		Datacenters: []testkit.Datacenter{
			{Name: "eu-west", Lat: 50.11, Lon: 8.68,
				Edges: []testkit.Node{{Name: "eu-west-1", Admin: "127.0.0.1:1", Extra: "public: [192.0.2.11, 2001:db8:1::11]"}}},
			{Name: "us-east", Lat: 39.04, Lon: -77.49, Edges: []testkit.Node{
				{Name: "us-east-1", Admin: "127.0.0.1:2", Extra: "public: [192.0.2.21], weight: 2"},
				{Name: "us-east-2", Admin: "127.0.0.1:3", Extra: "public: [192.0.2.22]"},
			}},
		},
		DNSExtra: testZoneDNS,
	}
}

// newTestResponder builds a Responder from testZone, every edge up.
func newTestResponder(t testing.TB) *Responder {
	topo := testZone().Parse(t)
	d := &topo.DNS
	var overrides []Override
	for _, n := range d.Networks {
		overrides = append(overrides, Override{Prefix: n.Network, Location: Location{Datacenter: n.Datacenter}})
	}
	loc, err := OpenLocator(d.GeoIP, overrides)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { loc.Close() })
	var sites []Datacenter
	index := map[string]int{}
	edges := make([][]Edge, len(topo.Datacenters))
	for i, dc := range topo.Datacenters {
		index[dc.Name] = i
		sites = append(sites, Datacenter{Name: dc.Name, Lat: dc.Lat, Lon: dc.Lon})
		for _, e := range dc.Edges {
			edges[i] = append(edges[i], Edge{Name: e.Name, Datacenter: i, Weight: e.Weight, Addrs: e.Public})
		}
	}
	var zones []*Zone
	for i := range d.Zones {
		z, err := CompileZone(&d.Zones[i], index)
		if err != nil {
			t.Fatal(err)
		}
		zones = append(zones, z)
	}
	r, err := NewResponder(ResponderConfig{Zones: zones, Locator: loc, Selector: NewSelector(sites, nil, d.DefaultOrder), Edges: edges})
	if err != nil {
		t.Fatal(err)
	}
	r.Rebuild(allUp{})
	return r
}

// allUp is a health where every edge passed its checks.
type allUp struct{}

func (allUp) EdgeUsable(string) bool          { return true }
func (allUp) EdgeUnchecked(string) bool       { return false }
func (allUp) DatacenterUp(string) bool        { return true }
func (allUp) DatacenterUnchecked(string) bool { return false }

// normalized is a response as comparable text: sections sorted, so two
// rotations of the same answer compare equal.
func normalized(t testing.TB, b []byte) string {
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatalf("response does not parse: %v (%x)", err, b)
	}
	var parts []string
	parts = append(parts, m.MsgHdr.String())
	for _, q := range m.Question {
		parts = append(parts, q.String())
	}
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		var rrs []string
		for _, rr := range sec {
			// Names may come back in the query's case (the fast path
			// compresses them to the question) or in the zone's.
			rrs = append(rrs, strings.ToLower(rr.String()))
		}
		slices.Sort(rrs)
		parts = append(parts, strings.Join(rrs, "\n"))
	}
	return strings.Join(parts, "\n--\n")
}

// checkRespond answers b through the fast path (when it takes the query)
// and through dns.Msg, and checks that a response is a well-formed answer
// to b and that both paths agree.
func checkRespond(t testing.TB, r *Responder, b []byte, client netip.Addr) {
	var q query
	out := make([]byte, 0, maxResponse)
	for _, udp := range []bool{true, false} {
		resp, res := r.Respond(&q, out, b, client, udp)
		if resp == nil {
			if !res.noReply || (len(b) >= headerLen && b[2]&0x80 == 0) {
				t.Fatalf("no reply to %x", b)
			}
			continue
		}
		m := new(dns.Msg)
		if err := m.Unpack(resp); err != nil {
			// A FORMERR built from the header alone may echo a question
			// dns.Msg cannot read back; only the header must be sane.
			if len(resp) < headerLen || resp[2]&0x80 == 0 {
				t.Fatalf("bad reply %x to %x: %v", resp, b, err)
			}
			continue
		}
		if !m.Response || m.Id != uint16(b[0])<<8|uint16(b[1]) {
			t.Fatalf("reply %v to %x: not a response with the query's ID", m.MsgHdr, b)
		}
		if udp && len(resp) > 4096 {
			t.Fatalf("UDP reply of %d bytes", len(resp))
		}
		if !q.simple {
			continue
		}
		var slow result
		var q2 query
		parseQuery(b, &q2)
		slowResp := r.slow(&q2, make([]byte, 0, maxResponse), b, client, udp, &slow)
		if got, want := normalized(t, resp), normalized(t, slowResp); got != want {
			t.Fatalf("fast and slow paths differ for %x:\nfast:\n%s\nslow:\n%s", b, got, want)
		}
	}
}

func pack(t testing.TB, m *dns.Msg) []byte {
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func seedQueries(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, name := range []string{"www.cdn.test.", "WWW.cdn.TEST.", "cdn.test.", "mail.cdn.test.", "static.cdn.test.", "nope.cdn.test.", "y.cdn.test.", "example.com.",
		"sub.cdn.test.", "www.sub.cdn.test.", "ns1.sub.cdn.test."} {
		for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeTXT, dns.TypeMX, dns.TypeNS, dns.TypeSOA, dns.TypeANY} {
			m := new(dns.Msg)
			m.SetQuestion(name, qtype)
			seeds = append(seeds, pack(t, m))
			m.SetEdns0(1232, true)
			seeds = append(seeds, pack(t, m))
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: netip.MustParseAddr("198.51.100.0").AsSlice()})
			seeds = append(seeds, pack(t, m))
		}
	}
	m := new(dns.Msg)
	m.SetQuestion("www.cdn.test.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 2, SourceNetmask: 56, Address: netip.MustParseAddr("2001:db8:2::").AsSlice()})
	seeds = append(seeds, pack(t, m), []byte{}, []byte{0, 1, 2}, make([]byte, 12))
	return seeds
}

func TestFastPathMatchesSlowPath(t *testing.T) {
	r := newTestResponder(t)
	for _, b := range seedQueries(t) {
		for _, client := range []string{"127.0.0.1", "198.51.100.9", "203.0.113.1", "2001:db8:1::1", "100.64.3.4"} {
			checkRespond(t, r, b, netip.MustParseAddr(client))
		}
	}
}

// TestNestedZones: a name held by a zone and by its child zone (the
// child's apex is an empty non-terminal of the parent) is answered from
// the child, on both paths.
func TestNestedZones(t *testing.T) {
	r := newTestResponder(t)
	for _, tc := range []struct {
		name  string
		qtype uint16
		want  string
	}{
		{"sub.cdn.test.", dns.TypeTXT, "child"},
		{"sub.cdn.test.", dns.TypeSOA, "sub.cdn.test."},
		{"www.sub.cdn.test.", dns.TypeA, "192.0.2.77"},
	} {
		m := new(dns.Msg)
		m.SetQuestion(tc.name, tc.qtype)
		b := pack(t, m)
		var q query
		resp, _ := r.Respond(&q, make([]byte, 0, maxResponse), b, netip.MustParseAddr("127.0.0.1"), true)
		if got := normalized(t, resp); !strings.Contains(got, strings.ToLower(tc.want)) || !q.simple {
			t.Errorf("%s %s (fast path %v):\n%s", tc.name, dns.TypeToString[tc.qtype], q.simple, got)
		}
		checkRespond(t, r, b, netip.MustParseAddr("127.0.0.1"))
	}
}

// TestQueryOddities: a compressed question keeps its ECS; an escaped dot
// is not a label boundary; many questions get a FORMERR without them; the
// CD bit is echoed; an OPT not owned by the root is FORMERR.
func TestQueryOddities(t *testing.T) {
	r := newTestResponder(t)
	client := netip.MustParseAddr("127.0.0.1")
	ask := func(b []byte) *dns.Msg {
		t.Helper()
		var q query
		q.places = new(placeCache)
		resp, _ := r.Respond(&q, make([]byte, 0, maxResponse), b, client, true)
		m := new(dns.Msg)
		if err := m.Unpack(resp); err != nil {
			t.Fatalf("reply %x: %v", resp, err)
		}
		return m
	}
	// Question name as a pointer to an owner name later in the packet: the
	// OPT's owner root cannot hold it, so point into an extra TXT record's
	// owner. Build: header, question = pointer, then an additional record
	// owned by www.cdn.test, then the OPT with ECS 203.0.113.0/24.
	var b []byte
	b = append(b, 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 2)
	ptrAt := len(b)
	b = append(b, 0xC0, 0, 0, 1, 0, 1) // pointer (fixed below), A, IN
	owner := len(b)
	b = append(b, 3, 'w', 'w', 'w', 3, 'c', 'd', 'n', 4, 't', 'e', 's', 't', 0)
	b = append(b, 0, 16, 0, 1, 0, 0, 0, 0, 0, 2, 1, 'x') // TXT "x"
	b = append(b, 0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 11, 0, 8, 0, 7, 0, 1, 24, 0, 203, 0, 113)
	b[ptrAt+1] = byte(owner)
	m := ask(b)
	var ecs *dns.EDNS0_SUBNET
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_SUBNET); ok {
				ecs = e
			}
		}
	}
	// Singapore's nearest here is eu-west (there is no ap-southeast).
	if len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "192.0.2.11" {
		t.Errorf("compressed question: %v", m.Answer)
	}
	if ecs == nil || ecs.SourceScope != 24 {
		t.Errorf("compressed question: ECS not honoured: %v", ecs)
	}

	// An escaped dot: the labels "a.cdn" and "test" are not in cdn.test.
	q := new(dns.Msg)
	q.SetQuestion(`a\.cdn.test.`, dns.TypeA)
	if m := ask(pack(t, q)); m.Rcode != dns.RcodeRefused {
		t.Errorf("escaped dot: rcode %s", dns.RcodeToString[m.Rcode])
	}

	// 100 questions: FORMERR, no question echoed, within 512 bytes.
	q = new(dns.Msg)
	for i := range 100 {
		q.Question = append(q.Question, dns.Question{Name: fmt.Sprintf("q%d.cdn.test.", i), Qtype: dns.TypeA, Qclass: dns.ClassINET})
	}
	var qq query
	resp, _ := r.Respond(&qq, make([]byte, 0, maxResponse), pack(t, q), client, true)
	if m := ask(pack(t, q)); m.Rcode != dns.RcodeFormatError || len(m.Question) != 0 || len(resp) > 512 {
		t.Errorf("100 questions: rcode %d, %d questions, %d bytes", m.Rcode, len(m.Question), len(resp))
	}

	// CD echoed, on both paths.
	for _, name := range []string{"www.cdn.test.", "nope.cdn.test."} {
		q = new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		q.CheckingDisabled = true
		if m := ask(pack(t, q)); !m.CheckingDisabled {
			t.Errorf("%s: CD not echoed", name)
		}
	}

	// OPT owned by a name other than the root.
	q = new(dns.Msg)
	q.SetQuestion("www.cdn.test.", dns.TypeA)
	q.Extra = append(q.Extra, &dns.OPT{Hdr: dns.RR_Header{Name: "cdn.test.", Rrtype: dns.TypeOPT, Class: 1232}})
	if m := ask(pack(t, q)); m.Rcode != dns.RcodeFormatError {
		t.Errorf("OPT not at the root: rcode %s", dns.RcodeToString[m.Rcode])
	}
}

func TestFastPathDoesNotAllocate(t *testing.T) {
	r := newTestResponder(t)
	m := new(dns.Msg)
	m.SetQuestion("www.cdn.test.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: netip.MustParseAddr("198.51.100.0").AsSlice()})
	b := pack(t, m)
	var q query
	out := make([]byte, 0, maxResponse)
	client := netip.MustParseAddr("127.0.0.1")
	r.Respond(&q, out, b, client, true) // warm the caches
	allocs := testing.AllocsPerRun(100, func() {
		resp, _ := r.Respond(&q, out, b, client, true)
		if resp == nil {
			t.Fatal("no response")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per geo answer, want 0", allocs)
	}
}

// FuzzRespond throws arbitrary packets at the Responder: it must never
// panic, every reply must be a response with the query's ID, and the fast
// path must agree with dns.Msg. Seeds: testdata/fuzz/FuzzRespond.
func FuzzRespond(f *testing.F) {
	for _, b := range seedQueries(f) {
		f.Add(b, []byte{198, 51, 100, 9})
	}
	r := newTestResponder(f)
	f.Fuzz(func(t *testing.T, b []byte, client []byte) {
		a, ok := netip.AddrFromSlice(client)
		if !ok {
			a = netip.MustParseAddr("127.0.0.1")
		}
		checkRespond(t, r, b, a)
	})
}

func BenchmarkRespond(b *testing.B) {
	r := newTestResponder(b)
	for _, tc := range []struct {
		name string
		ecs  bool
		qn   string
	}{{"geo", false, "www.cdn.test."}, {"geo-ecs", true, "www.cdn.test."}, {"static", false, "mail.cdn.test."}, {"nxdomain", false, "nope.cdn.test."}} {
		m := new(dns.Msg)
		m.SetQuestion(tc.qn, dns.TypeA)
		m.SetEdns0(1232, false)
		if tc.ecs {
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: netip.MustParseAddr("198.51.100.0").AsSlice()})
		}
		req := pack(b, m)
		b.Run(tc.name, func(b *testing.B) {
			q := query{places: new(placeCache)} // as a server worker has
			out := make([]byte, 0, maxResponse)
			client := netip.MustParseAddr("198.51.100.7")
			b.ReportAllocs()
			for b.Loop() {
				r.Respond(&q, out, req, client, true)
			}
		})
	}
}

// TestQuestionWithoutTypeAndClass: a question is a name, a type and a
// class (RFC 1035 §4.1.2); a packet that ends inside one is malformed:
// FORMERR, without inventing a TYPE0 CLASS0 question to echo, whether the
// name is one the fast path reads (plain) or one left to dns.Msg.
func TestQuestionWithoutTypeAndClass(t *testing.T) {
	r := newTestResponder(t)
	client := netip.MustParseAddr("127.0.0.1")
	header := []byte{0xAB, 0xCD, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	plain := []byte("\x03www\x03cdn\x04test\x00")
	odd := []byte("\x04w!w?\x03cdn\x04test\x00") // not plain: dns.Msg reads it
	for name, b := range map[string][]byte{
		"plain name only":          slices.Concat(header, plain),
		"plain name and type":      slices.Concat(header, plain, []byte{0, 1}),
		"odd name only":            slices.Concat(header, odd),
		"odd name and type":        slices.Concat(header, odd, []byte{0, 1}),
		"root name only":           slices.Concat(header, []byte{0}),
		"outside name only":        slices.Concat(header, []byte("\x07example\x03com\x00")),
		"two questions, name only": slices.Concat([]byte{0xAB, 0xCD, 0x01, 0x00, 0, 2, 0, 0, 0, 0, 0, 0}, plain),
		"second question short":    slices.Concat([]byte{0xAB, 0xCD, 0x01, 0x00, 0, 2, 0, 0, 0, 0, 0, 0}, plain, []byte{0, 1, 0, 1}, plain),
	} {
		for _, udp := range []bool{true, false} {
			var q query
			resp, res := r.Respond(&q, make([]byte, 0, maxResponse), b, client, udp)
			m := new(dns.Msg)
			if err := m.Unpack(resp); err != nil {
				t.Fatalf("%s: reply %x: %v", name, resp, err)
			}
			if m.Rcode != dns.RcodeFormatError || res.rcode != dns.RcodeFormatError || len(m.Question) != 0 || m.Id != 0xABCD || !m.Response {
				t.Errorf("%s (udp %v): rcode %s (counted %d), question %v, id %x", name, udp, dns.RcodeToString[m.Rcode], res.rcode, m.Question, m.Id)
			}
			checkRespond(t, r, b, client)
		}
	}
}
