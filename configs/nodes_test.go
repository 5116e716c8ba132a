package configs

import (
	"slices"
	"testing"
)

func TestNodes(t *testing.T) {
	topo, err := Parse("n.yaml", []byte(`sites:
  - name: s
    hosts: [a.test]
    origin: http://127.0.0.1:9000
origins:
  - name: o
    listen: 127.0.0.1:9000
    root: site
datacenters:
  - name: d1
    edges:
      - {name: e1, listen: 127.0.0.1:1, admin: 127.0.0.1:2, memory: 1GiB}
    shields:
      - {name: s1, listen: 127.0.0.1:3, admin: 127.0.0.1:4}
  - name: d2
    edges:
      - {name: e2, listen: 127.0.0.1:5, admin: 127.0.0.1:6}
      - {name: e3, listen: 127.0.0.1:7, admin: 127.0.0.1:8}
    shields:
      - {name: s2, listen: 127.0.0.1:9, admin: 127.0.0.1:10}
`))
	if err != nil {
		t.Fatal(err)
	}
	names := func(refs []NodeRef) []string {
		var s []string
		for _, r := range refs {
			s = append(s, r.Name)
		}
		return s
	}
	if got, want := names(topo.Nodes()), []string{"o", "s1", "e1", "s2", "e2", "e3"}; !slices.Equal(got, want) {
		t.Errorf("Nodes() = %v, want %v", got, want)
	}
	if got, want := names(topo.Shields()), []string{"s1", "s2"}; !slices.Equal(got, want) {
		t.Errorf("Shields() = %v, want %v", got, want)
	}
	if got, want := names(topo.Edges()), []string{"e1", "e2", "e3"}; !slices.Equal(got, want) {
		t.Errorf("Edges() = %v, want %v", got, want)
	}

	tests := []struct {
		name   string
		role   Role
		dc     string
		memory ByteSize
	}{
		{"o", RoleOrigin, "", 0},
		{"e1", RoleEdge, "d1", 1 * GiB},
		{"s1", RoleShield, "d1", 256 * MiB},
		{"e3", RoleEdge, "d2", 256 * MiB},
	}
	for _, tt := range tests {
		n, ok := topo.Lookup(tt.name)
		if !ok || n.Name != tt.name || n.Role != tt.role {
			t.Errorf("Lookup(%q) = %+v, %v", tt.name, n, ok)
			continue
		}
		if (n.Datacenter == nil) != (tt.dc == "") || n.Datacenter != nil && n.Datacenter.Name != tt.dc {
			t.Errorf("Lookup(%q).Datacenter = %v, want %q", tt.name, n.Datacenter, tt.dc)
		}
		if (n.Node == nil) != (n.Origin != nil) {
			t.Errorf("Lookup(%q): Node %v, Origin %v: want exactly one", tt.name, n.Node, n.Origin)
		}
		if got := topo.MemoryFor(n); got != tt.memory {
			t.Errorf("MemoryFor(%q) = %s, want %s", tt.name, got, tt.memory)
		}
	}
	if _, ok := topo.Lookup("nope"); ok {
		t.Error(`Lookup("nope") found a node`)
	}

	// The refs point into the topology.
	n, _ := topo.Lookup("e2")
	n.Node.Memory = 5 * MiB
	if topo.Datacenters[1].Edges[0].Memory != 5*MiB {
		t.Error("NodeRef.Node does not point into the Topology")
	}
}
