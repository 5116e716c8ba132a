package testkit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tern-cdn/tern/configs"
)

// Topology describes a fleet on loopback: every node listens on port 0 of
// its own 127.0.0.x address (admin servers too), so the kernel picks the
// ports and tests never collide. It renders as the YAML that configs.Parse
// reads, which keeps the tests on the same path as a real topology file.
type Topology struct {
	Sites       []Site
	Datacenters []Datacenter
	// DNS are the dns nodes; DNSExtra is YAML under `dns:` after them
	// (geoip, zones, health…).
	DNS      []Node
	DNSExtra string
	// Extra is YAML appended at the top level (cache:, tls:, upstream:,
	// fleet:…), after the dns section, so lines indented by two spaces
	// continue that section. Every other Extra is written unindented and
	// indented to its place.
	Extra string
}

// Site is one site of a Topology.
type Site struct {
	Name   string
	Hosts  []string
	Origin string
	// Extra is YAML under the site (cache:, https:…).
	Extra string
}

// Datacenter is one data center of a Topology.
type Datacenter struct {
	Name     string
	Lat, Lon float64
	// Extra is YAML fields of the data center (country:, continent:…).
	Extra   string
	Shields []Node
	Edges   []Node
}

// Node is a shield, edge or dns node of a Topology.
type Node struct {
	Name string
	// Host is the loopback address it listens on ("127.0.0.1" when
	// empty); listen and admin are Host:0.
	Host string
	// Admin, when set, is the admin address instead of Host:0.
	Admin string
	// TLS adds tls_listen on Host:0.
	TLS bool
	// Extra is more flow-style fields ("public: [192.0.2.1], weight: 3").
	Extra string
}

// OneEdge is a topology of one site, "test" for www.cdn.test in front of
// origin, and one edge, edge-1 in data center dc on 127.0.0.1.
func OneEdge(origin string) Topology {
	return Topology{
		Sites:       []Site{{Name: "test", Hosts: []string{"www.cdn.test"}, Origin: origin}},
		Datacenters: []Datacenter{{Name: "dc", Edges: []Node{{Name: "edge-1"}}}},
	}
}

// YAML renders the topology.
func (tp Topology) YAML() string {
	var b strings.Builder
	b.WriteString("sites:\n")
	for _, s := range tp.Sites {
		fmt.Fprintf(&b, "  - name: %s\n    hosts: [%s]\n    origin: %s\n", s.Name, strings.Join(s.Hosts, ", "), s.Origin)
		b.WriteString(block("    ", s.Extra))
	}
	b.WriteString("datacenters:\n")
	for _, dc := range tp.Datacenters {
		fmt.Fprintf(&b, "  - name: %s\n    lat: %g\n    lon: %g\n", dc.Name, dc.Lat, dc.Lon)
		b.WriteString(block("    ", dc.Extra))
		writeNodes(&b, "    shields:\n", "      ", dc.Shields)
		writeNodes(&b, "    edges:\n", "      ", dc.Edges)
	}
	if len(tp.DNS) > 0 || tp.DNSExtra != "" {
		b.WriteString("dns:\n")
		writeNodes(&b, "  nodes:\n", "    ", tp.DNS)
		b.WriteString(block("  ", tp.DNSExtra))
	}
	b.WriteString(block("", tp.Extra))
	return b.String()
}

// Parse renders the topology and parses it as configs.Parse does a file;
// it fails the test on an error.
func (tp Topology) Parse(t testing.TB) *configs.Topology {
	t.Helper()
	top, err := configs.Parse("topology.yaml", []byte(tp.YAML()))
	if err != nil {
		t.Fatalf("test topology: %v\n%s", err, tp.YAML())
	}
	return top
}

// WriteFile writes the topology to a file in a test's temporary directory
// (for a node in a child process) and returns its path.
func (tp Topology) WriteFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "topology.yaml")
	if err := os.WriteFile(p, []byte(tp.YAML()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeNodes(b *strings.Builder, header, indent string, nodes []Node) {
	if len(nodes) == 0 {
		return
	}
	b.WriteString(header)
	for _, n := range nodes {
		host := n.Host
		if host == "" {
			host = "127.0.0.1"
		}
		admin := n.Admin
		if admin == "" {
			admin = host + ":0"
		}
		fmt.Fprintf(b, "%s- {name: %s, listen: %s:0, admin: %s", indent, n.Name, host, admin)
		if n.TLS {
			fmt.Fprintf(b, ", tls_listen: %s:0", host)
		}
		if n.Extra != "" {
			b.WriteString(", " + n.Extra)
		}
		b.WriteString("}\n")
	}
}

// block returns YAML lines indented by indent, ending in a newline ("" for
// none), so that callers write their Extra fields unindented.
func block(indent, yaml string) string {
	yaml = strings.Trim(yaml, "\n")
	if yaml == "" {
		return ""
	}
	lines := strings.Split(yaml, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = indent + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// FreePort returns a on port 0 of its host, so that a node of a topology
// with fixed ports (configs.Demo) listens where the kernel picks.
func FreePort(t testing.TB, a configs.Addr) configs.Addr {
	t.Helper()
	b, err := configs.ParseAddr(a.Host() + ":0")
	if err != nil {
		t.Fatalf("free port for %s: %v", a, err)
	}
	return b
}

// OnLoopback looks up the shield or edge name in top and moves its
// listen, admin and (when it has one) tls_listen address to port 0 of host
// ("": of each address's own host). It returns the node's ref.
func OnLoopback(t testing.TB, top *configs.Topology, name, host string) configs.NodeRef {
	t.Helper()
	ref, ok := top.Lookup(name)
	if !ok || ref.Node == nil {
		t.Fatalf("no shield or edge %q in the topology", name)
	}
	move := func(a configs.Addr) configs.Addr {
		if host == "" {
			return FreePort(t, a)
		}
		b, err := configs.ParseAddr(host + ":0")
		if err != nil {
			t.Fatalf("%s on %s: %v", name, host, err)
		}
		return b
	}
	n := ref.Node
	n.Listen, n.Admin = move(n.Listen), move(n.Admin)
	if !n.TLSListen.IsZero() {
		n.TLSListen = move(n.TLSListen)
	}
	return ref
}
