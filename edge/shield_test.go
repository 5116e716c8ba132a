package edge_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tern-cdn/tern/cmd/tern/node"
	"github.com/tern-cdn/tern/configs"
	"github.com/tern-cdn/tern/internal/testkit"
)

// fleet is a topology of shields and edges running in process, in front
// of a test origin.
type fleet struct {
	top    *configs.Topology
	nodes  map[string]*node.Node
	cancel map[string]context.CancelFunc
	done   map[string]chan error
}

// startFleet runs every shield, then every edge, of a topology with
// `shields` shields and `edges` edges on loopback ports picked by the
// kernel, in front of originURL.
func startFleet(t *testing.T, originURL string, shields, edges int) *fleet {
	t.Helper()
	return startFleetProto(t, originURL, shields, edges, "")
}

// startFleetProto is startFleet with the edges speaking proto to their
// shields ("h2c", "http/1.1"; "": the default).
func startFleetProto(t *testing.T, originURL string, shields, edges int, proto string) *fleet {
	t.Helper()
	return startFleetWith(t, shields, edges, fleetOpts{proto: proto, sites: []fleetSite{{"test", "www.cdn.test", originURL}}})
}

// fleetOpts shape a test fleet.
type fleetOpts struct {
	sites []fleetSite
	// proto is how edges speak to shields ("": the default).
	proto string
	// timeout is upstream.timeout ("": the default).
	timeout string
	// tls gives every edge an HTTPS listener with certificates from a
	// local CA (Node.CARoot).
	tls bool
	// secretEnv, when set, names the fleet secret's variable in the
	// topology (fleet.secret_env) instead of giving the nodes a random one;
	// "-" gives them none.
	secretEnv string
	// topology, when set, changes the parsed topology before the nodes
	// start.
	topology func(*configs.Topology)
}

type fleetSite struct{ name, host, origin string }

// startFleetWith runs a fleet of the given shape; its nodes share a
// random fleet secret.
func startFleetWith(t *testing.T, shields, edges int, o fleetOpts) *fleet {
	t.Helper()
	tp := testkit.Topology{Extra: fleetUpstream(o)}
	for _, s := range o.sites {
		tp.Sites = append(tp.Sites, testkit.Site{Name: s.name, Hosts: []string{s.host}, Origin: s.origin})
	}
	for i := 0; i < max(shields, edges); i++ {
		dc := testkit.Datacenter{Name: fmt.Sprintf("dc%d", i), Lat: float64(i)}
		if i < shields {
			dc.Shields = []testkit.Node{{Name: fmt.Sprintf("shield-%d", i+1)}}
		}
		if i < edges {
			dc.Edges = []testkit.Node{{Name: fmt.Sprintf("edge-%d", i+1), Host: fmt.Sprintf("127.0.%d.1", i+1), TLS: o.tls}}
		}
		tp.Datacenters = append(tp.Datacenters, dc)
	}
	var secret []byte
	switch o.secretEnv {
	case "":
		secret = make([]byte, 32)
		rand.Read(secret)
	case "-":
	default:
		tp.Extra += fmt.Sprintf("fleet:\n  secret_env: %s\n", o.secretEnv)
	}
	top := tp.Parse(t)
	if o.topology != nil {
		o.topology(top)
	}
	f := &fleet{top: top, nodes: map[string]*node.Node{}, cancel: map[string]context.CancelFunc{}, done: map[string]chan error{}}
	t.Cleanup(func() {
		// Edges first: a shield stopping while an edge still holds
		// connections to it waits for them (a second for h2c's GOAWAY).
		for name := range f.nodes {
			if strings.HasPrefix(name, "edge-") {
				f.stop(name)
			}
		}
		for name := range f.nodes {
			f.stop(name)
		}
	})
	for _, role := range []configs.Role{configs.RoleShield, configs.RoleEdge} {
		for _, ref := range top.Nodes() {
			if ref.Role != role {
				continue
			}
			n, err := node.New(top, ref, node.Options{DataDir: t.TempDir(), FleetSecret: secret})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- n.Run(ctx) }()
			f.nodes[ref.Name], f.cancel[ref.Name], f.done[ref.Name] = n, cancel, done
			// Edges built after this find the shield where it listens.
			ref.Node.Listen, _ = configs.ParseAddr(n.Listen)
			ref.Node.Admin, _ = configs.ParseAddr(n.Admin)
		}
	}
	return f
}

// fleetUpstream is the top-level YAML of a fleet's tls and upstream
// settings: quick health checks, and o's protocol and timeout.
func fleetUpstream(o fleetOpts) string {
	var b strings.Builder
	if o.tls {
		b.WriteString("tls:\n  mode: local\n")
	}
	b.WriteString("upstream:\n")
	if o.proto != "" {
		fmt.Fprintf(&b, "  shield_protocol: %s\n", o.proto)
	}
	if o.timeout != "" {
		fmt.Fprintf(&b, "  timeout: %s\n", o.timeout)
	}
	b.WriteString("  health:\n    interval: 100ms\n    rise: 1\n    fall: 1\n    max_fails: 1\n    fail_backoff: 200ms\n")
	return b.String()
}

func (f *fleet) stop(name string) {
	if c, ok := f.cancel[name]; ok {
		c()
		<-f.done[name]
		delete(f.cancel, name)
	}
}

func (f *fleet) get(t *testing.T, node, path string) (int, string, string) {
	req, _ := http.NewRequest("GET", "http://"+f.nodes[node].Listen+path, nil)
	req.Host = "www.cdn.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, "", ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Cache-Status")
}

// TestCollapsingAcrossEdges: three edges each sending 100 concurrent
// requests for one cold object make exactly one origin request, because
// every edge sends the object to the same home shield, which collapses.
func TestCollapsingAcrossEdges(t *testing.T) {
	var hits atomic.Int64
	release := make(chan struct{})
	body := strings.Repeat("shielded ", 2000)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-release
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write([]byte(body))
	}))
	defer origin.Close()
	f := startFleet(t, origin.URL, 2, 3)

	var wg sync.WaitGroup
	bad := atomic.Int64{}
	for _, e := range []string{"edge-1", "edge-2", "edge-3"} {
		for i := 0; i < 100; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if code, b, _ := f.get(t, e, "/cold"); code != 200 || b != body {
					bad.Add(1)
				}
			}()
		}
	}
	testkit.Eventually(t, 5*time.Second, "hits.Load() >= 1", func() bool { return hits.Load() >= 1 })
	close(release)
	wg.Wait()
	if bad.Load() != 0 {
		t.Errorf("%d bad responses", bad.Load())
	}
	if got := hits.Load(); got != 1 {
		t.Fatalf("origin requests = %d, want 1", got)
	}
}

// TestShieldFailover stops an object's home shield: the edges fetch it
// through the other shield, then from the origin when both are gone, with
// no client error.
func TestShieldFailover(t *testing.T) {
	var hits atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write([]byte("v:" + r.URL.RequestURI()))
	}))
	defer origin.Close()
	f := startFleet(t, origin.URL, 2, 2)

	code, _, status := f.get(t, "edge-1", "/obj?1")
	home, _, _ := strings.Cut(status, ";")
	if code != 200 || !strings.HasPrefix(home, "tern-shield-") {
		t.Fatalf("first fetch: %d %q", code, status)
	}
	f.stop(strings.TrimPrefix(home, "tern-"))
	// edge-2 has not seen the object: it goes to the other shield.
	code, b, status := f.get(t, "edge-2", "/obj?1")
	if code != 200 || b != "v:/obj?1" || strings.HasPrefix(status, home) || !strings.HasPrefix(status, "tern-shield-") {
		t.Fatalf("after stopping %s: %d %q %q", home, code, b, status)
	}
	for name := range f.cancel {
		if strings.HasPrefix(name, "shield-") {
			f.stop(name)
		}
	}
	code, b, status = f.get(t, "edge-2", "/obj?2")
	if code != 200 || b != "v:/obj?2" || status != "tern-edge-2; fwd=miss; stored" {
		t.Fatalf("with no shield: %d %q %q", code, b, status)
	}
}
