package configs

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDemo(t *testing.T) {
	topo, err := Demo()
	if err != nil {
		t.Fatal(err)
	}
	if topo.Path() != "configs/demo.yaml" {
		t.Errorf("Path() = %q", topo.Path())
	}

	if len(topo.Sites) != 1 {
		t.Fatalf("sites = %d, want 1", len(topo.Sites))
	}
	s := topo.Sites[0]
	if s.Name != "demo" || !slices.Equal(s.Hosts, []string{"www.cdn.test", "localhost"}) ||
		s.Origin.String() != "http://127.0.0.1:9000" ||
		s.Cache.StaleWhileRevalidate.D() != 30*time.Second || s.Cache.StaleIfError.D() != 10*time.Minute {
		t.Errorf("site = %+v", s)
	}
	if topo.Cache.Memory != 256*MiB || topo.Cache.MaxObjectSize != 64*MiB {
		t.Errorf("cache = %+v", topo.Cache)
	}

	type node struct {
		name, role, dc, listen, admin string
	}
	var got []node
	for _, n := range topo.Nodes() {
		nd := node{name: n.Name, role: string(n.Role)}
		if n.Datacenter != nil {
			nd.dc = n.Datacenter.Name
		}
		switch {
		case n.Node != nil:
			nd.listen, nd.admin = n.Node.Listen.String(), n.Node.Admin.String()
		case n.Origin != nil:
			nd.listen, nd.admin = n.Origin.Listen.String(), n.Origin.Admin.String()
		case n.DNS != nil:
			nd.listen, nd.admin = n.DNS.Listen.String(), n.DNS.Admin.String()
		case n.Purge != nil:
			nd.listen, nd.admin = n.Purge.Listen.String(), n.Purge.Admin.String()
		}
		got = append(got, nd)
	}
	want := []node{
		{"purge-1", "purge", "", "127.0.0.1:8088", "127.0.0.1:9104"},
		{"origin", "origin", "", "127.0.0.1:9000", "127.0.0.1:9099"},
		{"shield-2", "shield", "eu-west", "127.0.0.1:9002", "127.0.0.1:9102"},
		{"eu-west-1", "edge", "eu-west", "127.0.1.1:8080", "127.0.1.1:9100"},
		{"shield-1", "shield", "us-east", "127.0.0.1:9001", "127.0.0.1:9101"},
		{"us-east-1", "edge", "us-east", "127.0.2.1:8080", "127.0.2.1:9100"},
		{"ap-southeast-1", "edge", "ap-southeast", "127.0.3.1:8080", "127.0.3.1:9100"},
		{"dns-1", "dns", "", "127.0.0.1:8053", "127.0.0.1:9103"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("nodes =\n%v\nwant\n%v", got, want)
	}

	type dc struct {
		name, city, country, continent string
		lat, lon                       float64
	}
	var dcs []dc
	for _, d := range topo.Datacenters {
		dcs = append(dcs, dc{d.Name, d.City, d.Country, d.Continent, d.Lat, d.Lon})
	}
	wantDCs := []dc{
		{"eu-west", "Frankfurt", "DE", "EU", 50.11, 8.68},
		{"us-east", "Ashburn", "US", "NA", 39.04, -77.49},
		{"ap-southeast", "Singapore", "SG", "AS", 1.35, 103.82},
	}
	if !slices.Equal(dcs, wantDCs) {
		t.Errorf("datacenters = %v, want %v", dcs, wantDCs)
	}

	o := topo.Origins[0]
	if o.Root != "testdata/site" {
		t.Errorf("origin root = %q", o.Root)
	}
	type rule struct{ match, cc, keys string }
	var rules []rule
	for _, r := range o.Rules {
		rules = append(rules, rule{r.Match, r.CacheControl, strings.Join(r.SurrogateKeys, " ")})
	}
	wantRules := []rule{
		{"*.js", "public, max-age=60", "assets"},
		{"*.css", "public, max-age=60", "assets"},
		{"/img/*", "public, max-age=300", "images"},
		{"/video/*", "public, max-age=3600", "video"},
		{"*.html", "public, max-age=10, stale-while-revalidate=30", "html"},
	}
	if !slices.Equal(rules, wantRules) {
		t.Errorf("rules = %v, want %v", rules, wantRules)
	}

	edge, ok := topo.Lookup("us-east-1")
	if !ok || !slices.Equal(edge.Node.Public, []netip.Addr{netip.MustParseAddr("127.0.2.1")}) {
		t.Errorf("us-east-1 public = %v (found %v)", edge.Node.Public, ok)
	}
	// The addresses the geo-DNS issue asks the demo to keep.
	dnsNode, ok := topo.Lookup("dns-1")
	if !ok || dnsNode.Role != RoleDNS || dnsNode.DNS.Listen.String() != "127.0.0.1:8053" || dnsNode.DNS.Admin.String() != "127.0.0.1:9103" {
		t.Errorf("dns-1 = %+v (found %v)", dnsNode.DNS, ok)
	}
	if len(topo.DNS.Zones) != 1 || topo.DNS.Zones[0].Fqdn("www") != "www.cdn.test." || len(topo.DNS.Zones[0].Geo) != 1 {
		t.Errorf("dns zones = %+v", topo.DNS.Zones)
	}
	if p := topo.Purge; p.Name != "purge-1" || p.Bus.Mode != "embedded" || p.Bus.Listen.String() != "127.0.0.1:9105" || p.TokensFile != "purge-tokens" {
		t.Errorf("purge = %+v", p)
	}

	// Each call parses anew: changing one result leaves the next alone.
	topo.Sites[0].Name = "changed"
	again, err := Demo()
	if err != nil || again.Sites[0].Name != "demo" {
		t.Errorf("Demo() shares state: %v %v", again.Sites[0].Name, err)
	}
}
