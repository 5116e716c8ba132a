package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/tern-cdn/tern/cmd/tern/node"
	"github.com/tern-cdn/tern/configs"
)

const siteHost = "www.bench.test"

// clusterOpts choose the topology.
type clusterOpts struct {
	name    string
	shields bool
	// fixedPorts gives the shields fixed ports, reserved first, so that a
	// shield can be restarted on the same addresses. Otherwise port 0.
	fixedPorts bool
	// upstream is the topology's upstream section (YAML, indented by 2),
	// or "" for the defaults.
	upstream string
}

// runningNode is a node and what stops it.
type runningNode struct {
	ref    configs.NodeRef
	node   *node.Node
	cancel context.CancelFunc
	done   chan error
	// stopped and err are set by stopNode.
	stopped bool
	err     error
}

// cluster is one topology running in this process: 3 edges, 0 or 2
// shields, in front of a testOrigin.
type cluster struct {
	name    string
	top     *configs.Topology
	origin  *testOrigin
	edges   []*runningNode
	shields map[string]*runningNode
	order   []string // shield names
	dataDir string
	log     *slog.Logger
}

var edgeHosts = []string{"127.0.1.1", "127.0.2.1", "127.0.3.1"}

// reservePort returns a port that was free on 127.0.0.1 a moment ago.
func reservePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// topologyYAML writes the topology: site www.bench.test on originAddr,
// datacenters a (shield-1, edge-a), b (shield-2, edge-b) and c (edge-c).
func topologyYAML(o clusterOpts, originAddr string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "sites:\n  - name: bench\n    hosts: [%s]\n    origin: http://%s\n", siteHost, originAddr)
	b.WriteString("datacenters:\n")
	shieldAddr := func() (string, error) {
		if !o.fixedPorts {
			return "127.0.0.1:0", nil
		}
		p, err := reservePort()
		return fmt.Sprintf("127.0.0.1:%d", p), err
	}
	for i, dc := range []string{"a", "b", "c"} {
		fmt.Fprintf(&b, "  - name: dc-%s\n    lat: %d\n    lon: 0\n", dc, i*10)
		if o.shields && i < 2 {
			l, err := shieldAddr()
			if err != nil {
				return "", err
			}
			a, err := shieldAddr()
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "    shields:\n      - name: shield-%d\n        listen: %s\n        admin: %s\n", i+1, l, a)
		}
		fmt.Fprintf(&b, "    edges:\n      - name: edge-%s\n        listen: %s:0\n        admin: %s:0\n", dc, edgeHosts[i], edgeHosts[i])
	}
	b.WriteString("cache:\n  memory: 256MiB\n  max_object_size: 16MiB\n")
	if o.upstream != "" {
		b.WriteString("upstream:\n" + o.upstream)
	}
	return b.String(), nil
}

// startCluster starts an origin, then the shields (their real addresses
// are patched into the topology), then the edges.
func startCluster(o clusterOpts, dataDir string, log *slog.Logger) (*cluster, error) {
	org, err := startOrigin()
	if err != nil {
		return nil, err
	}
	c := &cluster{name: o.name, origin: org, shields: map[string]*runningNode{}, dataDir: dataDir, log: log}
	y, err := topologyYAML(o, org.Addr)
	if err != nil {
		c.Stop()
		return nil, err
	}
	if c.top, err = configs.Parse(o.name+".yaml", []byte(y)); err != nil {
		c.Stop()
		return nil, fmt.Errorf("topology: %w\n%s", err, y)
	}
	for _, ref := range c.top.Shields() {
		rn, err := c.startNode(ref)
		if err != nil {
			c.Stop()
			return nil, err
		}
		// Edges built after this find the shield at its real ports.
		ref.Node.Listen, _ = configs.ParseAddr(rn.node.Listen)
		ref.Node.Admin, _ = configs.ParseAddr(rn.node.Admin)
		c.shields[ref.Name] = rn
		c.order = append(c.order, ref.Name)
	}
	for _, ref := range c.top.Edges() {
		rn, err := c.startNode(ref)
		if err != nil {
			c.Stop()
			return nil, err
		}
		c.edges = append(c.edges, rn)
	}
	// Wait until every node answers /readyz.
	deadline := time.Now().Add(5 * time.Second)
	for _, rn := range c.all() {
		for {
			if code, _, err := get(adminClient, "http://"+rn.node.Admin+"/readyz", ""); err == nil && code == 200 {
				break
			}
			if time.Now().After(deadline) {
				c.Stop()
				return nil, fmt.Errorf("%s did not get ready", rn.ref.Name)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return c, nil
}

func (c *cluster) startNode(ref configs.NodeRef) (*runningNode, error) {
	// The cluster's nodes share a fixed benchmark secret, so shields trust
	// their edges as in a real fleet.
	n, err := node.New(c.top, ref, node.Options{DataDir: c.dataDir, Logger: c.log.With("cluster", c.name),
		FleetSecret: []byte("bench-offload fleet secret " + c.name)})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	rn := &runningNode{ref: ref, node: n, cancel: cancel, done: make(chan error, 1)}
	go func() { rn.done <- n.Run(ctx) }()
	return rn, nil
}

// stopNode cancels a node's Run and waits for it to return.
func stopNode(rn *runningNode) error {
	if rn.stopped {
		return rn.err
	}
	rn.cancel()
	select {
	case rn.err = <-rn.done:
	case <-time.After(node.ShutdownTimeout + 5*time.Second):
		rn.err = fmt.Errorf("%s did not stop", rn.ref.Name)
	}
	rn.stopped = true
	return rn.err
}

func (c *cluster) all() []*runningNode {
	var out []*runningNode
	for _, name := range c.order {
		out = append(out, c.shields[name])
	}
	return append(out, c.edges...)
}

// Stop stops every node, then the origin.
func (c *cluster) Stop() {
	for _, rn := range c.all() {
		if rn == nil {
			continue
		}
		rn.cancel()
	}
	for _, rn := range c.all() {
		if rn == nil {
			continue
		}
		if err := stopNode(rn); err != nil {
			fmt.Printf("  (%s: %s stopped with %v)\n", c.name, rn.ref.Name, err)
		}
	}
	c.origin.Stop()
}

func (c *cluster) edgeAdmins() []string {
	var out []string
	for _, e := range c.edges {
		out = append(out, e.node.Admin)
	}
	return out
}
