package natsbus_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tern-cdn/tern/purge"
	"github.com/tern-cdn/tern/purge/natsbus"
)

// startCluster starts three NATS servers routed on loopback.
func startCluster(t *testing.T) []*natsbus.Server {
	t.Helper()
	dir := tempDir(t)
	var servers []*natsbus.Server
	// A JetStream cluster member needs a configured route; the first
	// server's points at an address where nothing listens (port 1, never
	// bound: the others find the first by routing to it, and gossip).
	routes := []string{"nats-route://127.0.0.1:1"}
	for i := range 3 {
		name := fmt.Sprintf("n%d", i+1)
		s, err := natsbus.StartServer(natsbus.ServerConfig{
			Name: name, Dir: filepath.Join(dir, name), Host: "127.0.0.1", Port: -1,
			ClusterName: "tern-test", ClusterHost: "127.0.0.1", ClusterPort: -1, Routes: routes,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Shutdown)
		if i == 0 {
			routes = []string{s.RouteURL()}
		}
		servers = append(servers, s)
	}
	return servers
}

// publishRetrying publishes p until the stream stores it; the dedup key
// makes a retry whose first try was stored one purge.
func publishRetrying(t *testing.T, b purge.Bus, p purge.Purge) uint64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		pub, err := b.Publish(ctx, p, "k-"+p.ID)
		cancel()
		if err == nil {
			return pub.Seq
		}
		if time.Now().After(deadline) {
			t.Fatalf("publish %s: %v", p.ID, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterServerKilledLosesNothing: three NATS servers, stream and
// status with three replicas; the stream's leader is killed in the middle
// of a stream of purges; every purge is applied, once, in order.
func TestClusterServerKilledLosesNothing(t *testing.T) {
	servers := startCluster(t)
	urls := []string{servers[0].ClientURL(), servers[1].ClientURL(), servers[2].ClientURL()}
	pub := connect(t, natsbus.Config{URLs: urls, Replicas: 3, Timeout: 3 * time.Second})
	sub := connect(t, natsbus.Config{URLs: slices.Clone(urls), Replicas: 3, Timeout: 3 * time.Second})
	// The cluster needs a moment to elect its JetStream meta leader.
	waitFor(t, "stream created with 3 replicas", 20*time.Second, func() bool {
		_, err := pub.Position(context.Background(), "probe")
		return err == nil
	})
	t.Logf("cluster ready")
	rec := &recorder{}
	startApplier(t, sub, "edge-1", rec)

	const n = 120
	var ids []string
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("p-%d", i)
		if i == n/2 {
			leader, err := natsbus.StreamLeader(context.Background(), pub)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range servers {
				if s.Name() == leader {
					s.Shutdown()
					t.Logf("killed the stream leader %s", leader)
				}
			}
		}
		publishRetrying(t, pub, purge.Purge{ID: id, Site: "www", Files: []string{"/" + id}, Accepted: time.Now()})
		ids = append(ids, id)
	}
	t.Logf("all published")
	waitFor(t, "every purge applied", 30*time.Second, func() bool { return len(rec.calls()) >= n })
	if got := rec.calls(); !slices.Equal(got, ids) {
		t.Fatalf("applied %d purges %v, want %d in order", len(got), got, n)
	}
	t.Logf("all applied")
	waitFor(t, "status recorded", 20*time.Second, func() bool {
		nodes, err := pub.Nodes(context.Background())
		return err == nil && nodes["edge-1"].Seq == n
	})
}
