package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The fleet's addresses: every node on its own 127.0.x.1 loopback address
// (any 127/8 address is loopback on Linux), so the ports can repeat.
const (
	purgeAPI   = "127.0.9.1:8088"
	purgeAdmin = "127.0.9.1:9104"
	purgeNATS  = "127.0.9.1:9105"
	originAddr = "127.0.9.1:9000"
	siteHost   = "www.cdn.test"
	benchToken = "bench-token-0123456789abcdef"
)

func shieldAddr(i int) string { return fmt.Sprintf("127.0.%d.1", 10+i) }
func edgeAddr(i int) string   { return fmt.Sprintf("127.0.%d.1", 20+i) }

// topology writes a fleet of shields and edges in one data center, with
// or without the purge node. Rate and burst are raised so that the API's
// per-token limit does not cap the rate runs.
func topology(shields, edges int, withPurge bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "sites:\n  - name: bench\n    hosts: [%s]\n    origin: http://%s\n", siteHost, originAddr)
	b.WriteString("cache: {memory: 512MiB, max_object_size: 1MiB}\n")
	if withPurge {
		fmt.Fprintf(&b, "purge:\n  name: purge-1\n  listen: %q\n  admin: %q\n  tokens_file: purge-tokens\n  rate: 100000\n  burst: 100000\n  bus: {mode: embedded, listen: %q}\n",
			purgeAPI, purgeAdmin, purgeNATS)
	}
	b.WriteString("datacenters:\n  - name: dc\n    lat: 0\n    lon: 0\n")
	if shields > 0 {
		b.WriteString("    shields:\n")
		for i := range shields {
			fmt.Fprintf(&b, "      - {name: shield-%d, listen: \"%s:8080\", admin: \"%s:9100\"}\n", i+1, shieldAddr(i), shieldAddr(i))
		}
	}
	b.WriteString("    edges:\n")
	for i := range edges {
		fmt.Fprintf(&b, "      - {name: edge-%d, listen: \"%s:8080\", admin: \"%s:9100\"}\n", i+1, edgeAddr(i), edgeAddr(i))
	}
	return b.String()
}

// node is one `tern run --node NAME` process.
type node struct {
	name  string
	admin string // host:port of /metrics and /readyz
	cmd   *exec.Cmd
}

// fleet is the running processes of one topology.
type fleet struct {
	tern  string
	dir   string
	nodes []*node
}

func newFleet(tern, dir string, shields, edges int, withPurge bool) (*fleet, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "fleet.yaml"), []byte(topology(shields, edges, withPurge)), 0o644); err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "purge-tokens"), []byte(benchToken+" bench\n"), 0o600); err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	f := &fleet{tern: tern, dir: dir}
	if withPurge {
		f.nodes = append(f.nodes, &node{name: "purge-1", admin: purgeAdmin})
	}
	for i := range shields {
		f.nodes = append(f.nodes, &node{name: fmt.Sprintf("shield-%d", i+1), admin: shieldAddr(i) + ":9100"})
	}
	for i := range edges {
		f.nodes = append(f.nodes, &node{name: fmt.Sprintf("edge-%d", i+1), admin: edgeAddr(i) + ":9100"})
	}
	return f, nil
}

// start runs every node in order (purge node, shields, edges) and waits
// until all are ready, for at most a minute.
func (f *fleet) start(ctx context.Context) error {
	for _, n := range f.nodes {
		n.cmd = exec.Command(f.tern, "run", "--config", filepath.Join(f.dir, "fleet.yaml"), "--node", n.name, "--data-dir", f.dir)
		log, err := os.Create(filepath.Join(f.dir, n.name+".log"))
		if err != nil {
			return fmt.Errorf("log of %s: %w", n.name, err)
		}
		n.cmd.Stdout, n.cmd.Stderr = log, log
		n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the bench
		if err := n.cmd.Start(); err != nil {
			return fmt.Errorf("starting %s: %w", n.name, err)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for _, n := range f.nodes {
		for !ready(ctx, n.admin) {
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not ready within a minute (see %s.log)", n.name, filepath.Join(f.dir, n.name))
			}
			if n.cmd.ProcessState != nil {
				return fmt.Errorf("%s exited", n.name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func ready(ctx context.Context, admin string) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// stop ends every process: SIGTERM, then SIGKILL after 5 s.
func (f *fleet) stop() {
	for _, n := range f.nodes {
		if n.cmd != nil && n.cmd.Process != nil {
			n.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, n := range f.nodes {
		if n.cmd == nil || n.cmd.Process == nil {
			continue
		}
		done := make(chan struct{})
		go func() { n.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			n.cmd.Process.Kill()
			<-done
		}
	}
}

func (f *fleet) byName(name string) *node {
	for _, n := range f.nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

// caches are the nodes that apply purges (all but the purge node).
func (f *fleet) caches() []*node {
	var c []*node
	for _, n := range f.nodes {
		if n.name != "purge-1" {
			c = append(c, n)
		}
	}
	return c
}

// rss is a process's resident set from /proc, in bytes.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading status: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
