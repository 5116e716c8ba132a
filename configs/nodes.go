package configs

// Role is what a node does.
type Role string

// The roles of the nodes in a topology.
const (
	RoleEdge   Role = "edge"   // a client-facing cache (Datacenter.Edges)
	RoleShield Role = "shield" // a cache between edges and origins (Datacenter.Shields)
	RoleOrigin Role = "origin" // a built-in static origin (Topology.Origins)
	RoleDNS    Role = "dns"    // an authoritative geo-DNS server (DNS.Nodes)
	RolePurge  Role = "purge"  // the purge API and embedded bus (Topology.Purge)
)

// NodeRef points at one node of a topology. Its pointers are into the
// Topology it came from.
type NodeRef struct {
	Name string
	Role Role
	// Datacenter holds the node; nil for an origin or a dns node.
	Datacenter *Datacenter
	// Node is the edge or shield; nil for other roles.
	Node *Node
	// Origin is the static origin; nil for other roles.
	Origin *StaticOrigin
	// DNS is the dns node; nil for other roles.
	DNS *DNSNode
	// Purge is the purge section, for the purge node; nil for other roles.
	Purge *Purge
}

// Nodes returns every node in file order by kind: the purge node first
// when purge.listen is set (it runs the bus the caches consume), the origins, then,
// for each datacenter in turn, its shields and then its edges (shields
// before edges, so that starting nodes in this order starts every node
// after its upstreams), and the dns nodes last (they check the edges).
func (t *Topology) Nodes() []NodeRef {
	var refs []NodeRef
	if !t.Purge.Listen.IsZero() {
		refs = append(refs, NodeRef{Name: t.Purge.Name, Role: RolePurge, Purge: &t.Purge})
	}
	for i := range t.Origins {
		o := &t.Origins[i]
		refs = append(refs, NodeRef{Name: o.Name, Role: RoleOrigin, Origin: o})
	}
	for i := range t.Datacenters {
		dc := &t.Datacenters[i]
		refs = appendNodes(refs, dc, dc.Shields, RoleShield)
		refs = appendNodes(refs, dc, dc.Edges, RoleEdge)
	}
	for i := range t.DNS.Nodes {
		n := &t.DNS.Nodes[i]
		refs = append(refs, NodeRef{Name: n.Name, Role: RoleDNS, DNS: n})
	}
	return refs
}

func appendNodes(refs []NodeRef, dc *Datacenter, nodes []Node, role Role) []NodeRef {
	for i := range nodes {
		refs = append(refs, NodeRef{Name: nodes[i].Name, Role: role, Datacenter: dc, Node: &nodes[i]})
	}
	return refs
}

// Lookup finds a node by name.
func (t *Topology) Lookup(name string) (NodeRef, bool) {
	for _, n := range t.Nodes() {
		if n.Name == name {
			return n, true
		}
	}
	return NodeRef{}, false
}

// Shields returns the shield nodes, in the order of Nodes.
func (t *Topology) Shields() []NodeRef { return t.byRole(RoleShield) }

// Edges returns the edge nodes, in the order of Nodes.
func (t *Topology) Edges() []NodeRef { return t.byRole(RoleEdge) }

func (t *Topology) byRole(role Role) []NodeRef {
	var refs []NodeRef
	for _, n := range t.Nodes() {
		if n.Role == role {
			refs = append(refs, n)
		}
	}
	return refs
}

// MemoryFor returns the memory-tier budget of a cache node: its Memory
// override, else Cache.Memory. It is 0 for an origin, which has no cache.
func (t *Topology) MemoryFor(n NodeRef) ByteSize {
	switch {
	case n.Node == nil:
		return 0
	case n.Node.Memory > 0:
		return n.Node.Memory
	}
	return t.Cache.Memory
}

// DiskFor is a cache node's disk budget: its own override, else
// Cache.Disk; 0 means no disk tier.
func (t *Topology) DiskFor(n NodeRef) ByteSize {
	switch {
	case n.Node == nil:
		return 0
	case n.Node.Disk > 0:
		return n.Node.Disk
	}
	return t.Cache.Disk
}

// HasPurge reports whether the topology has a purge bus that every edge and
// shield consumes: a purge node, or an external bus.
func (t *Topology) HasPurge() bool {
	return !t.Purge.Listen.IsZero() || len(t.Purge.Bus.URLs) > 0
}
