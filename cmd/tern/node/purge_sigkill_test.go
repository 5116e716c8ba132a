package node

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tern-cdn/tern/configs"
	"github.com/tern-cdn/tern/purge"
	"github.com/tern-cdn/tern/purge/client"
)

// purgeChildEnv makes the test binary run one node of a topology file
// (TERN_PURGE_CHILD) as a child process: TERN_PURGE_CHILD_NODE,
// TERN_PURGE_CHILD_DATA, TERN_PURGE_CHILD_BUS (the NATS URL).
const purgeChildEnv = "TERN_PURGE_CHILD"

const childFleetSecret = "fleet-secret-for-tests"

// runPurgeChild runs the node and prints "listening ADDR ADMIN" once it
// listens.
func runPurgeChild() int {
	top, err := configs.Load(os.Getenv(purgeChildEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ref, ok := top.Lookup(os.Getenv("TERN_PURGE_CHILD_NODE"))
	if !ok {
		fmt.Fprintln(os.Stderr, "no node")
		return 2
	}
	n, err := New(top, ref, Options{
		DataDir:      os.Getenv("TERN_PURGE_CHILD_DATA"),
		FleetSecret:  []byte(childFleetSecret),
		PurgeBusURLs: []string{os.Getenv("TERN_PURGE_CHILD_BUS")},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println("listening", n.Listen, n.Admin)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := n.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// sigkillYAML is a purge node, a shield and edge-1; the edge runs in a
// child process, which reads the shield's bound addresses from its copy.
const sigkillYAML = `sites:
  - name: test
    hosts: [www.cdn.test]
    origin: %s
cache: {disk: 16MiB}
purge:
  name: purge-1
  listen: "127.0.0.1:0"
  admin: "127.0.0.1:0"
  tokens_file: purge-tokens
  bus: {listen: "127.0.0.1:0"}
datacenters:
  - name: dc
    lat: 0
    lon: 0
    shields:
      - {name: shield-1, listen: %q, admin: %q}
    edges:
      - {name: edge-1, listen: "127.0.0.1:0", admin: "127.0.0.1:0"}
`

// startPurgeChild starts edge-1 as a child process on data and returns it
// with its traffic and admin addresses.
func startPurgeChild(t *testing.T, topology, data, bus string) (*exec.Cmd, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), purgeChildEnv+"="+topology, "TERN_PURGE_CHILD_NODE=edge-1",
		"TERN_PURGE_CHILD_DATA="+data, "TERN_PURGE_CHILD_BUS="+bus)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	fields := strings.Fields(line)
	if err != nil || len(fields) != 3 || fields[0] != "listening" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child did not start: %q %v", line, err)
	}
	go io.Copy(io.Discard, out)
	return cmd, fields[1], fields[2]
}

// TestPurgeSIGKILLAppliesMissed kills an edge (a child process) with
// SIGKILL while a stream of purges is being published, restarts it on
// the same data directory, and checks that once ready it applied every
// purge: each purged object is a miss that reaches the origin (through
// the shield), each other object is still a hit.
func TestPurgeSIGKILLAppliesMissed(t *testing.T) {
	o := newPurgeOrigin(t)
	top, err := configs.Parse("fleet.yaml", []byte(fmt.Sprintf(sigkillYAML, o.srv.URL, "127.0.0.1:0", "127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	f := &purgeFleet{t: t, top: top, dir: t.TempDir(), nodes: map[string]*Node{}, stops: map[string]func(){},
		shields: []string{"shield-1"}, edges: []string{"edge-1"}}
	if err := os.WriteFile(filepath.Join(f.dir, "purge-tokens"), []byte(purgeToken+" test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.opts = Options{DataDir: f.dir, FleetSecret: []byte(childFleetSecret)}
	t.Cleanup(f.stopAll)
	p := f.start("purge-1")
	f.api = "http://" + p.Listen
	f.opts.PurgeBusURLs = []string{p.BusURL}
	sh := f.start("shield-1")
	f.waitReady("purge-1")
	f.waitReady("shield-1")

	childTop := filepath.Join(t.TempDir(), "fleet.yaml")
	if err := os.WriteFile(childTop, []byte(fmt.Sprintf(sigkillYAML, o.srv.URL, sh.Listen, sh.Admin)), 0o644); err != nil {
		t.Fatal(err)
	}
	childData := t.TempDir() // the edge's own, kept across its restart
	if err := os.WriteFile(filepath.Join(childData, "purge-tokens"), []byte(purgeToken+" test\n"), 0o600); err != nil {
		t.Fatal(err) // an edge reads them for the PURGE method
	}
	cmd, listen, admin := startPurgeChild(t, childTop, childData, p.BusURL)
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	f.nodes["edge-1"] = &Node{Listen: listen, Admin: admin}
	f.waitReady("edge-1")

	const objects, purged = 40, 20 // /k0.js … /k19.js are purged
	for i := range objects {
		f.warm(fmt.Sprintf("/k%d.js", i))
	}
	before := map[string]int{}
	for i := range objects {
		before[fmt.Sprintf("/k%d.js", i)] = o.count(fmt.Sprintf("/k%d.js", i))
	}

	// Publish the stream; SIGKILL the edge once a quarter of it is in.
	c := &client.Client{API: f.api, Token: purgeToken}
	for i := range purged {
		if i == purged/4 {
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			killed = true
		}
		if _, err := c.Purge(context.Background(), purge.Purge{Site: "test", Files: []string{fmt.Sprintf("/k%d.js", i)}}, ""); err != nil {
			t.Fatalf("purge %d: %v", i, err)
		}
	}

	cmd, listen, admin = startPurgeChild(t, childTop, childData, p.BusURL)
	killed = false
	f.nodes["edge-1"] = &Node{Listen: listen, Admin: admin}
	f.waitReady("edge-1")
	for i := range objects {
		path := fmt.Sprintf("/k%d.js", i)
		_, status := f.get("edge-1", path)
		fetched := o.count(path) - before[path]
		if i < purged && (edgeHit("edge-1", status) || fetched != 1) {
			t.Errorf("%s was purged: after the restart Cache-Status %q, %d origin requests, want a miss and 1", path, status, fetched)
		}
		if i >= purged && (!edgeHit("edge-1", status) || fetched != 0) {
			t.Errorf("%s was not purged: after the restart Cache-Status %q, %d origin requests, want a hit and 0", path, status, fetched)
		}
	}
}
