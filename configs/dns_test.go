package configs

import (
	"strings"
	"testing"
	"time"
)

// dnsBase is minimal plus a valid dns section, from line 11.
const dnsBase = minimal + `dns:
  nodes:
    - {name: dns-1, listen: 127.0.0.1:8053, admin: 127.0.0.1:9103}
  zones:
    - name: cdn.test
      ns:
        - {name: ns1.cdn.test, addresses: [127.0.0.1]}
      records:
        - "mail IN A 192.0.2.25"
      geo:
        - name: www
`

func TestDNSValid(t *testing.T) {
	topo, err := Parse("dns.yaml", []byte(dnsBase))
	if err != nil {
		t.Fatal(err)
	}
	d := topo.DNS
	z := d.Zones[0]
	if z.SOA.MName != "ns1.cdn.test" || z.SOA.RName != "hostmaster.cdn.test" || z.SOA.Serial != 1 ||
		z.SOA.Minimum.D().Seconds() != 60 || z.TTL.D().Hours() != 1 || z.Geo[0].TTL != d.TTL {
		t.Errorf("zone defaults: %+v", z)
	}
	if d.ECS.MaxPrefixV4 != 24 || d.ECS.MaxPrefixV6 != 56 || d.Health.Fall != 2 || d.RateLimit.ResponsesPerSecond != 200 ||
		d.TCP.MaxConnections != 512 || d.UDPSize != 1232 || len(d.DefaultOrder) != 1 || d.DefaultOrder[0] != "d" {
		t.Errorf("dns defaults: %+v", d)
	}
	if d.Health.FlapWindow.D() != 2*time.Minute || d.Health.FlapHoldMax.D() != 5*time.Minute {
		t.Errorf("dns health flap defaults: %+v", d.Health)
	}
	if topo.Datacenters[0].MinEdgesUp != 1 || topo.Datacenters[0].Edges[0].Weight != 1 {
		t.Errorf("datacenter defaults: %+v", topo.Datacenters[0])
	}
	rr, err := z.Record(0)
	if err != nil || rr.String() != "mail.cdn.test.\t3600\tIN\tA\t192.0.2.25" {
		t.Errorf("record: %v %v", rr, err)
	}
	for name, want := range map[string]string{"@": "cdn.test.", "www": "www.cdn.test.", "www.cdn.test": "www.cdn.test.", "WWW.Cdn.Test.": "www.cdn.test."} {
		if got := z.Fqdn(name); got != want {
			t.Errorf("Fqdn(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestDNSErrors(t *testing.T) {
	tests := []struct {
		name, replace, with string
		want                []want
	}{
		{"bad record", `"mail IN A 192.0.2.25"`, `"mail IN A 192.0.2"`,
			[]want{{19, "dns.zones[0].records[0]", "bad A A"}}},
		{"record outside the zone", `"mail IN A 192.0.2.25"`, `"mail.example.com. IN A 192.0.2.25"`,
			[]want{{19, "dns.zones[0].records[0]", "outside the zone cdn.test."}}},
		{"NS record", `"mail IN A 192.0.2.25"`, `"sub IN NS ns.example.com."`,
			[]want{{19, "dns.zones[0].records[0]", "delegations are not served"}}},
		{"static A at a geo name", `"mail IN A 192.0.2.25"`, `"www IN A 192.0.2.25"`,
			[]want{{21, "dns.zones[0].geo[0].name", "also has static A, AAAA or CNAME"}}},
		{"glue missing", `{name: ns1.cdn.test, addresses: [127.0.0.1]}`, `{name: ns1.cdn.test}`,
			[]want{{17, "dns.zones[0].ns[0].addresses", "give its addresses (glue)"}}},
		{"unknown datacenter", "        - name: www\n", "        - {name: www, datacenters: [mars]}\n",
			[]want{{21, "dns.zones[0].geo[0].datacenters[0]", `no datacenter named "mars"`}}},
		{"no zones", "  zones:\n", "  zonez:\n",
			[]want{{14, "dns.zonez", "unknown field"}}},
		{"bad zone name", "name: cdn.test", "name: cdn..test",
			[]want{{15, "dns.zones[0].name", "is not a domain name"}}},
		{"network with host bits", "  zones:\n", "  networks:\n    - {network: 10.1.2.3/8, datacenter: d}\n  zones:\n",
			[]want{{15, "dns.networks[0].network", "the network is 10.0.0.0/8"}}},
		{"pin without countries", "  zones:\n", "  pins:\n    - {datacenters: [d]}\n  zones:\n",
			[]want{{15, "dns.pins[0]", "needs countries or continents"}}},
		{"ecs prefix", "  zones:\n", "  ecs: {max_prefix_v4: 33}\n  zones:\n",
			[]want{{14, "dns.ecs.max_prefix_v4", "outside [1, 32]"}}},
		{"negative flap window", "  zones:\n", "  health: {flap_window: -1s, flap_hold_max: -2m}\n  zones:\n",
			[]want{{14, "dns.health.flap_window", "is negative"}, {14, "dns.health.flap_hold_max", "is negative"}}},
		{"min edges", "        admin: 127.0.0.1:9100\n", "        admin: 127.0.0.1:9100\n    min_edges_up: 2\n",
			[]want{{11, "datacenters[0].min_edges_up", "outside [1, 1 edges]"}}},
		{"dns listen clash", "listen: 127.0.0.1:8053", "listen: 127.0.0.1:8080",
			[]want{{13, "dns.nodes[0].listen", "already used by datacenters[0].edges[0].listen"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(dnsBase, tt.replace, tt.with, 1)
			if doc == dnsBase {
				t.Fatalf("%q not found", tt.replace)
			}
			checkParseErrors(t, "configs/dns.yaml", doc, tt.want)
		})
	}
}
