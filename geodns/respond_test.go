package geodns

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/tern-cdn/tern/configs"
)

// testZoneYAML is a topology whose dns section the Responder tests use.
const testZoneYAML = `
sites:
  - {name: s, hosts: [www.cdn.test], origin: "http://127.0.0.1:9"}
datacenters:
  - name: eu-west
    lat: 50.11
    lon: 8.68
    edges:
      - {name: eu-west-1, listen: 127.0.0.1:0, admin: 127.0.0.1:1, public: [192.0.2.11, 2001:db8:1::11]}
  - name: us-east
    lat: 39.04
    lon: -77.49
    edges:
      - {name: us-east-1, listen: 127.0.0.1:0, admin: 127.0.0.1:2, public: [192.0.2.21], weight: 2}
      - {name: us-east-2, listen: 127.0.0.1:0, admin: 127.0.0.1:3, public: [192.0.2.22]}
dns:
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
      geo:
        - name: www
`

// newTestResponder builds a Responder from testZoneYAML, every edge up.
func newTestResponder(t testing.TB) *Responder {
	topo, err := configs.Parse("test.yaml", []byte(testZoneYAML))
	if err != nil {
		t.Fatal(err)
	}
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
	var sites []Site
	index := map[string]int{}
	edges := make([][]Edge, len(topo.Datacenters))
	for i, dc := range topo.Datacenters {
		index[dc.Name] = i
		sites = append(sites, Site{Name: dc.Name, Lat: dc.Lat, Lon: dc.Lon})
		for _, e := range dc.Edges {
			edges[i] = append(edges[i], Edge{Name: e.Name, Site: i, Weight: e.Weight, Addrs: e.Public})
		}
	}
	z, err := CompileZone(&d.Zones[0], index)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewResponder(ResponderConfig{Zones: []*Zone{z}, Locator: loc, Selector: NewSelector(sites, nil, d.DefaultOrder), Edges: edges})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

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
	for _, name := range []string{"www.cdn.test.", "WWW.cdn.TEST.", "cdn.test.", "mail.cdn.test.", "static.cdn.test.", "nope.cdn.test.", "y.cdn.test.", "example.com."} {
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
