package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-cdn/tern/configs"
	"github.com/tern-cdn/tern/purge/client"
)

// purgeToken is the fleet tests' purge API token, for site "test".
const purgeToken = "tok-purge-test"

// otherToken may purge another site only.
const otherToken = "tok-purge-other"

// purgeOrigin is an origin whose bodies name their version: every request
// of a path answers the next version, so a test tells a cached copy from a
// fresh one by its bytes.
type purgeOrigin struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newPurgeOrigin(t *testing.T) *purgeOrigin {
	o := &purgeOrigin{hits: map[string]int{}}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.hits[r.URL.Path]++
		n := o.hits[r.URL.Path]
		o.mu.Unlock()
		w.Header().Set("Cache-Control", "public, max-age=300, stale-while-revalidate=60")
		if strings.HasSuffix(r.URL.Path, ".js") {
			w.Header().Set("Surrogate-Key", "assets")
		}
		fmt.Fprintf(w, "%s v%d", r.URL.Path, n)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *purgeOrigin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[path]
}

// purgeFleet is a purge node, two shields and two edges, real nodes of one
// topology on loopback, with the purge node's embedded NATS server on a
// free port.
type purgeFleet struct {
	t       *testing.T
	top     *configs.Topology
	dir     string
	opts    Options
	api     string // the purge API's base URL
	nodes   map[string]*Node
	stops   map[string]func()
	edges   []string
	shields []string
}

const purgeFleetYAML = `sites:
  - name: test
    hosts: [www.cdn.test]
    origin: %s
cache: {disk: 16MiB} # kept across a node's restart
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
      - {name: shield-1, listen: "127.0.0.1:0", admin: "127.0.0.1:0"}
      - {name: shield-2, listen: "127.0.0.1:0", admin: "127.0.0.1:0"}
    edges:
      - {name: edge-1, listen: "127.0.0.1:0", admin: "127.0.0.1:0"}
      - {name: edge-2, listen: "127.0.0.1:0", admin: "127.0.0.1:0"}
`

// startPurgeFleet starts the fleet in order (purge node, shields, edges)
// and waits until every node is ready.
func startPurgeFleet(t *testing.T, originURL string) *purgeFleet {
	return startPurgeFleetFrom(t, fmt.Sprintf(purgeFleetYAML, originURL))
}

// startPurgeFleetFrom is startPurgeFleet of another topology.
func startPurgeFleetFrom(t *testing.T, yaml string) *purgeFleet {
	top, err := configs.Parse("fleet.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	f := &purgeFleet{t: t, top: top, dir: t.TempDir(), nodes: map[string]*Node{}, stops: map[string]func(){}}
	if err := os.WriteFile(filepath.Join(f.dir, "purge-tokens"), []byte(purgeToken+" test\n"+otherToken+" other\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.opts = Options{DataDir: f.dir, FleetSecret: []byte("fleet-secret-for-tests")}
	t.Cleanup(f.stopAll)
	p := f.start("purge-1")
	f.api = "http://" + p.Listen
	f.opts.PurgeBusURLs = []string{p.BusURL}
	for _, ref := range top.Shields() {
		f.shields = append(f.shields, ref.Name)
		f.start(ref.Name)
	}
	for _, ref := range top.Edges() {
		f.edges = append(f.edges, ref.Name)
		f.start(ref.Name)
	}
	for name := range f.nodes {
		f.waitReady(name)
	}
	return f
}

// start builds and runs one node; a cache node's listen and admin
// addresses become its bound ones in the topology, so that edges built
// later find their shields.
func (f *purgeFleet) start(name string) *Node {
	f.t.Helper()
	ref, ok := f.top.Lookup(name)
	if !ok {
		f.t.Fatalf("no node %s", name)
	}
	n, err := New(f.top, ref, f.opts)
	if err != nil {
		f.t.Fatal(err)
	}
	if ref.Node != nil {
		ref.Node.Listen, _ = configs.ParseAddr(n.Listen)
		ref.Node.Admin, _ = configs.ParseAddr(n.Admin)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	f.nodes[name] = n
	f.stops[name] = func() {
		cancel()
		if err := <-done; err != nil {
			f.t.Errorf("node %s: %v", name, err)
		}
	}
	return n
}

func (f *purgeFleet) stop(name string) {
	if stop, ok := f.stops[name]; ok {
		delete(f.stops, name)
		stop()
	}
}

// stopAll stops the caches first and the purge node (the bus) last.
func (f *purgeFleet) stopAll() {
	for _, name := range append(append([]string{}, f.edges...), f.shields...) {
		f.stop(name)
	}
	f.stop("purge-1")
}

func (f *purgeFleet) waitReady(name string) {
	f.t.Helper()
	url := "http://" + f.nodes[name].Admin + "/readyz"
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%s not ready after 15s (last: %v)", name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get asks an edge for path on www.cdn.test; it returns the body and the
// Cache-Status.
func (f *purgeFleet) get(edge, path string) (string, string) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+f.nodes[edge].Listen+path, nil)
	req.Host = "www.cdn.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		f.t.Fatalf("GET %s at %s: %d %v", path, edge, resp.StatusCode, err)
	}
	return string(b), resp.Header.Get("Cache-Status")
}

// purge runs `tern purge --wait` against the fleet's API.
func (f *purgeFleet) purge(args ...string) string {
	f.t.Helper()
	tok := filepath.Join(f.t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte(purgeToken+"\n"), 0o600); err != nil {
		f.t.Fatal(err)
	}
	var out, errb bytes.Buffer
	all := append([]string{"--api", f.api, "--token-file", tok, "--site", "test", "--wait", "--timeout", "20s"}, args...)
	if err := client.Command(all, &out, &errb); err != nil {
		f.t.Fatalf("tern purge %v: %v\n%s%s", args, err, out.String(), errb.String())
	}
	return out.String()
}

// warm asks every edge for path until it is a hit there, and returns the
// body the edges hold.
func (f *purgeFleet) warm(path string) map[string]string {
	f.t.Helper()
	bodies := map[string]string{}
	for _, e := range f.edges {
		f.get(e, path)
		body, status := f.get(e, path)
		if !edgeHit(e, status) {
			f.t.Fatalf("%s at %s: second request Cache-Status %q, want a hit", path, e, status)
		}
		bodies[e] = body
	}
	return bodies
}

// TestPurgeFleetFile: `tern purge --wait` of /app.js lists every edge and
// shield applied, and the next request at every edge is a miss that
// reaches the origin (through the shields, which purged too), while other
// objects stay cached.
func TestPurgeFleetFile(t *testing.T) {
	o := newPurgeOrigin(t)
	f := startPurgeFleet(t, o.srv.URL)
	before := f.warm("/app.js")
	f.warm("/other.css")
	hits, other := o.count("/app.js"), o.count("/other.css")

	out := f.purge("--url", "/app.js")
	for _, name := range append(append([]string{}, f.edges...), f.shields...) {
		if !strings.Contains(out, name) || !regexpApplied(out, name) {
			t.Errorf("tern purge output does not list %s applied:\n%s", name, out)
		}
	}
	for _, e := range f.edges {
		body, status := f.get(e, "/app.js")
		if body == before[e] || edgeHit(e, status) {
			t.Errorf("%s after the purge: %q (Cache-Status %q), the purged copy %q", e, body, status, before[e])
		}
		if _, status := f.get(e, "/other.css"); !edgeHit(e, status) {
			t.Errorf("%s: /other.css was not purged but is a %q", e, status)
		}
	}
	if got := o.count("/app.js"); got <= hits {
		t.Errorf("origin requests for /app.js: %d after the purge, %d before", got, hits)
	}
	if got := o.count("/other.css"); got != other {
		t.Errorf("origin requests for /other.css: %d, want %d", got, other)
	}
}

// edgeHit reports whether a Cache-Status says edge answered from its own
// cache (a shield's hit behind an edge's miss is not one).
func edgeHit(edge, status string) bool {
	return strings.Contains(status, "tern-"+edge+"; hit")
}

// regexpApplied reports whether out has a line "<name> applied".
func regexpApplied(out, name string) bool {
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 2 && fields[0] == name && fields[1] == "applied" {
			return true
		}
	}
	return false
}
