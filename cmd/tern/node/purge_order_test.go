package node

import (
	"context"
	"testing"
	"time"

	"github.com/tern-cdn/tern/purge/api"
	"github.com/tern-cdn/tern/purge/client"
)

// TestPurgeOrderEdgeBeforeShield races the tiers: the shields' appliers
// are held (stopped) so that the edges apply a purge while the shields
// still hold the purged copy, and ready. The edges' next request for it
// must not re-cache the purged version from a shield: the edge's fill says
// which purge it applied (Tern-Purge-Seq) and a shield that has not
// applied it yet answers from the origin.
func TestPurgeOrderEdgeBeforeShield(t *testing.T) {
	o := newPurgeOrigin(t)
	f := startPurgeFleet(t, o.srv.URL)
	f.get("edge-1", "/app.js")
	purged, _ := f.get("edge-1", "/app.js")
	f.warm("/app.js")
	for _, s := range f.shields {
		f.nodes[s].part.(*cacheNode).purge.applier.Stop()
	}

	c := &client.Client{API: f.api, Token: purgeToken}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code, body := f.purgeMethod("edge-1", "/app.js", purgeToken)
	id, _ := body["id"].(string)
	if code != 202 || id == "" {
		t.Fatalf("PURGE: %d %v", code, body)
	}
	// Both edges applied it; the shields did not.
	for deadline := time.Now().Add(20 * time.Second); ; {
		st, err := c.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if stateOf(st, "edge-1") == "applied" && stateOf(st, "edge-2") == "applied" {
			if stateOf(st, "shield-1") == "applied" || stateOf(st, "shield-2") == "applied" {
				t.Fatalf("a held shield applied the purge: %+v", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("edges did not apply %s: %+v", id, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, e := range f.edges {
		for i := range 2 {
			if got, status := f.get(e, "/app.js"); got == purged {
				t.Errorf("%s request %d after the purge: the purged %q again (Cache-Status %q)", e, i, got, status)
			}
		}
	}
}

func stateOf(st api.Status, node string) string {
	for _, n := range st.Nodes {
		if n.Node == node {
			return n.State
		}
	}
	return ""
}
